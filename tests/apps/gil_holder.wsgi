# Sleeps the query string's seconds holding the GIL (a C call made
# through ctypes.pythonapi keeps it), as a misbehaving C extension does.
import ctypes

libc = ctypes.PyDLL(None)


def application(environ, start_response):
    libc.sleep(int(environ.get("QUERY_STRING") or 0))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"awake\n"]
