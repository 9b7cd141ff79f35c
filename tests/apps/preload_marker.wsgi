# Leaves a marker named after its process when it is executed, so a test
# can tell it ran before any request reached it; each execution adds a
# line, so a test can tell it ran once.
import os

_markers = os.path.join(os.path.dirname(os.path.dirname(__file__)), "markers")
with open(os.path.join(_markers, "imported-%d" % os.getpid()), "a") as _marker:
    _marker.write("executed\n")


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"imported %d" % os.getpid()]
