# A one-item list whose block is too large to copy (1 MiB, every byte
# value), with the Content-Length right, too short or too long; and how
# many references the block has, to show the server let go of it.
import sys

BLOCK = bytes(range(256)) * 4096


def application(environ, start_response):
    case = environ["QUERY_STRING"]
    headers = [("Content-Type", "application/octet-stream")]
    if case == "whole":
        start_response("200 OK", headers)
        return [BLOCK]
    if case == "cut":
        start_response("200 OK", headers + [("Content-Length", "70000")])
        return [BLOCK]
    if case == "short":
        start_response("200 OK", headers + [("Content-Length", str(len(BLOCK) + 10))])
        return [BLOCK]
    if case == "references":
        body = str(sys.getrefcount(BLOCK)).encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    raise ValueError(case)
