# Applications that misbehave, one per query string.
import os
import sys
import threading
import time

LEAKED = []


class RaisesOnIteration:
    def __iter__(self):
        raise RuntimeError("iteration refused")

    def close(self):
        mark("iteration-closed")


class RaisesOnClose:
    def __iter__(self):
        return iter([b"body before a failing close"])

    def close(self):
        raise RuntimeError("close refused")


def mark(name):
    markers = os.path.join(os.path.dirname(os.path.dirname(__file__)), "markers")
    open(os.path.join(markers, name), "w").close()


def application(environ, start_response):
    case = environ["QUERY_STRING"]
    headers = [("Content-Type", "text/plain")]
    if case == "none":
        start_response("200 OK", headers)
        return None
    if case == "int":
        start_response("200 OK", headers)
        return 42
    if case == "iteration-raises":
        start_response("200 OK", headers)
        return RaisesOnIteration()
    if case == "close-raises":
        start_response("200 OK", headers)
        return RaisesOnClose()
    if case == "three-start-responses":
        start_response("500 First", headers)
        start_response("404 Second", headers)
        start_response("200 Third", headers)
        return [b"third wins"]
    if case == "block":
        mark("blocking")
        time.sleep(60)
        start_response("200 OK", headers)
        return [b"woke up"]
    if case == "flood-errors":
        line = "x" * 99 + "\n"
        for _ in range(100000):
            environ["wsgi.errors"].write(line)
        start_response("200 OK", headers)
        return [b"flooded"]
    if case == "leak-environ":
        LEAKED.append(environ)
        start_response("200 OK", headers)
        return [b"leaked"]
    if case == "use-leaked":
        old = LEAKED[-1]
        try:
            old["wsgi.input"].read()
            answer = b"read a dead request"
        except RuntimeError as error:
            answer = str(error).encode()
        start_response("200 OK", headers)
        return [answer]
    if case == "spoil-environ":
        environ["wsgi.version"] = (9, 9)
        environ["wsgi.multithread"] = "spoiled"
        del environ["wsgi.file_wrapper"]
        environ["mod_rwsgi.version"] = "spoiled"
        environ["SPOILED"] = "yes"
        start_response("200 OK", headers)
        return [b"spoiled"]
    if case == "show-environ-constants":
        shown = [
            repr(environ["wsgi.version"]),
            repr(environ["wsgi.multithread"]),
            repr("wsgi.file_wrapper" in environ),
            environ["mod_rwsgi.version"],
            repr("SPOILED" in environ),
        ]
        start_response("200 OK", headers)
        return [" ".join(shown).encode()]
    raise ValueError("unknown case " + case)
