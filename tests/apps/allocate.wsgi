# Keeps the query string's megabytes alive in the process, as a leaking
# app does, and answers with its pid.
import os

KEPT = []


def application(environ, start_response):
    KEPT.append(bytearray(int(environ.get("QUERY_STRING") or 0) * 1024 * 1024))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"pid %d\n" % os.getpid()]
