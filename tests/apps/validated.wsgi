# Wrapped in wsgiref.validate, which asserts PEP 3333's rules about the
# server's side; any warning is turned into an error. The path picks how the
# response is produced: /file (wsgi.file_wrapper), /stream (a generator),
# /write (start_response's write()), anything else a one-item list echoing
# the body after "ok:".
import warnings
from wsgiref.validate import validator

warnings.simplefilter("error")


def app(environ, start_response):
    # The validator allows read() only with a size; chunked bodies have no
    # CONTENT_LENGTH, so read to EOF (wsgi.input_terminated).
    body = b"".join(iter(lambda: environ["wsgi.input"].read(8192), b""))
    # Past the body: EOF, whatever the method.
    assert environ["wsgi.input"].readlines() == []
    kind = environ["PATH_INFO"]
    if kind == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](open(__file__, "rb"), 1024)
    if kind == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"ok:%d" % i for i in range(3))
    if kind == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"ok:")
        write(body)
        return []
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body) + 3))])
    return [b"ok:", body]


application = validator(app)
