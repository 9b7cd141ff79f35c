# The iterable writes a marker file when close() is called; the query string
# says how the request goes: "ok", "raise-in-iteration", "str-item", or
# "endless" (streams until the client disconnects).
import os
import time

MARKERS = os.path.join(os.path.dirname(__file__), "..", "markers")


class Body:
    def __init__(self, case, marker):
        self.case = case
        self.marker = marker

    def __iter__(self):
        yield b"first\n"
        if self.case == "raise-in-iteration":
            raise RuntimeError("raised while iterating")
        if self.case == "str-item":
            yield "not bytes"
        if self.case == "endless":
            while True:
                yield b"x" * 65536
                time.sleep(0.01)
        yield b"last\n"

    def close(self):
        with open(os.path.join(MARKERS, self.marker), "w") as f:
            f.write("closed")


def application(environ, start_response):
    case, _, marker = environ["QUERY_STRING"].partition("&")
    if case == "raise-in-app":
        # close() cannot be called on an iterable never returned; the marker
        # proves the app ran.
        open(os.path.join(MARKERS, marker), "w").close()
        raise RuntimeError("raised before returning")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Body(case, marker)
