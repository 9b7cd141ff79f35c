def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Method", environ["REQUEST_METHOD"])])
    return [b"a body that HEAD must not send\n"]
