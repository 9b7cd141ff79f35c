# Sends its whole answer before it reads the request body, then echoes
# the body's length: an order that deadlocks a gateway that writes the
# whole body to the app before reading its answer, once both outgrow the
# buffers between them.
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    size = int(environ.get("QUERY_STRING") or 0)
    yield b"x" * size
    body = environ["wsgi.input"].read()
    yield b"\nread %d" % len(body)
