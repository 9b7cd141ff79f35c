# Asks for its own process's restart, as mod_wsgi's documentation shows.
import os
import signal


def application(environ, start_response):
    os.kill(os.getpid(), signal.SIGINT)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"restarting\n"]
