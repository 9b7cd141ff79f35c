# Counts how often this script is executed in the process.
import os
import sys

sys.rwsgi_test_loads = getattr(sys, "rwsgi_test_loads", 0) + 1


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%d %d" % (os.getpid(), sys.rwsgi_test_loads)).encode()]
