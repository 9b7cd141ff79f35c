# A WSGIHandlerScript: serves whatever Apache hands to its handler name,
# here by describing the request.
import os


def handle_request(environ, start_response):
    described = "handled SCRIPT_NAME=%s PATH_INFO=%s file=%s" % (
        environ["SCRIPT_NAME"],
        environ["PATH_INFO"],
        os.path.basename(environ.get("SCRIPT_FILENAME", "")),
    )
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [described.encode()]


def other(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"other callable"]
