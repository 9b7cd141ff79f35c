# Sends its head and a first block, then its process ends mid-response.
import os


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"first part\n"
    os._exit(9)
