def application(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"from write, ")
    return [b"then from the iterable\n"]
