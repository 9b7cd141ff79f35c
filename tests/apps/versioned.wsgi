# Answers with its VERSION; tests rewrite this file to change it.
VERSION = 0


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(VERSION).encode()]
