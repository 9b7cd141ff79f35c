import sys


def application(environ, start_response):
    case = environ["QUERY_STRING"]
    if case == "replace-before-output":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "yes")])
        try:
            raise ValueError("handled by the app")
        except ValueError:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"replaced\n"]
    if case == "second-call-before-output":
        start_response("200 OK", [("X-First", "yes")])
        start_response("202 Accepted", [("Content-Type", "text/plain")])
        return [b"second wins\n"]
    if case == "exc-info-after-output":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"already sent\n")
        try:
            raise KeyError("reraised by start_response")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        return [b"never\n"]
    if case == "second-call-after-output":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"already sent\n")
        start_response("500 Internal Server Error", [])
        return [b"never\n"]
    raise ValueError(case)
