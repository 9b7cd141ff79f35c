# Records every request that reaches it (method, path, body length) as a
# marker file, so a test can tell which requests the app saw; echoes the
# body.
import os
import urllib.parse


def application(environ, start_response):
    body = environ["wsgi.input"].read()
    markers = os.path.join(os.path.dirname(environ["DOCUMENT_ROOT"]), "markers")
    name = "seen %s %s %d" % (environ["REQUEST_METHOD"], environ["PATH_INFO"], len(body))
    open(os.path.join(markers, urllib.parse.quote(name, safe="")), "w").close()
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))])
    return [body]
