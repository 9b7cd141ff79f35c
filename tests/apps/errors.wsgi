def application(environ, start_response):
    errors = environ["wsgi.errors"]
    errors.write("first line from the app\n")
    errors.writelines(["second ", "line from the app\n", "unterminated tail"])
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"logged\n"]
