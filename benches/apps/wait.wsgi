# A database round trip's worth of waiting (2 ms, the GIL released, as a
# driver releases it around its socket), then a little Python.
import time

BODY = b"waited"


def application(environ, start_response):
    time.sleep(0.002)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]
