# Leaves a marker named after its process when it is executed, so a test
# can tell it ran before any request reached it.
import os

_markers = os.path.join(os.path.dirname(os.path.dirname(__file__)), "markers")
open(os.path.join(_markers, "imported-%d" % os.getpid()), "w").close()


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"imported %d" % os.getpid()]
