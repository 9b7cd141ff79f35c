# 64 KiB from a one-item list.
BODY = b"x" * 65536


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [BODY]
