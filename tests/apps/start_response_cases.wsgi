# One app per way of calling start_response, chosen by the query string.
# Each bad call must raise inside the app; the app lets it propagate.
import sys

CASES = {
    "no-reason": ("200", [("Content-Type", "text/plain")]),
    "two-digit-status": ("20 OK", []),
    "letters-in-status": ("2OO OK", []),
    "newline-in-reason": ("200 OK\r\nX-Injected: yes", []),
    "bytes-status": (b"200 OK", []),
    "tuple-headers": ("200 OK", (("Content-Type", "text/plain"),)),
    "three-tuple-header": ("200 OK", [("Content-Type", "text/plain", "extra")]),
    "bytes-header-value": ("200 OK", [("Content-Type", b"text/plain")]),
    "newline-in-value": ("200 OK", [("X-Test", "a\r\nX-Injected: yes")]),
    "nul-in-value": ("200 OK", [("X-Test", "a\x00b")]),
    "colon-in-name": ("200 OK", [("X-Te:st", "a")]),
    "space-in-name": ("200 OK", [("X Test", "a")]),
    "non-latin1-value": ("200 OK", [("X-Test", "\u20ac")]),
    "connection-header": ("200 OK", [("Connection", "close")]),
    "transfer-encoding-header": ("200 OK", [("Transfer-Encoding", "chunked")]),
    "negative-content-length": ("200 OK", [("Content-Length", "-1")]),
    "text-content-length": ("200 OK", [("Content-Length", "ten")]),
}


def application(environ, start_response):
    case = environ["QUERY_STRING"]
    status, headers = CASES[case]
    try:
        start_response(status, headers)
    except (TypeError, ValueError) as exc:
        # Record what was raised, then let the server see it.
        environ["wsgi.errors"].write("start_response raised %s\n" % type(exc).__name__)
        raise
    return [b"accepted\n"]
