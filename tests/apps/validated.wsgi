# Wrapped in wsgiref.validate, which asserts PEP 3333's rules about the
# server's side; any warning is turned into an error.
import warnings
from wsgiref.validate import validator

warnings.simplefilter("error")


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    # Past the body: EOF, whatever the method.
    assert environ["wsgi.input"].readlines() == []
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body) + 3))])
    return [b"ok:", body]


application = validator(app)
