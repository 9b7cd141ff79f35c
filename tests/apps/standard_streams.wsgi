# Answers what sys.stdin, sys.stdout and sys.stderr are and do, one
# "stream.fact<TAB>value" line each: types, encodings, buffering, and what
# read(), write() and fileno() give (a repr, or the exception raised).
# Each write puts a line ending with the request's QUERY_STRING into the
# error log, so that a test can find it there.
import sys


def outcome(call):
    try:
        return repr(call())
    except Exception as e:
        return "raises %s: %s" % (type(e).__name__, e)


def describe(stream, name, tag):
    facts = {
        "type": type(stream).__name__,
        "isatty": outcome(stream.isatty),
        "fileno": outcome(stream.fileno),
    }
    if hasattr(stream, "buffer"):
        facts["buffer"] = type(stream.buffer).__name__
        facts["encoding"] = stream.encoding
        facts["errors"] = stream.errors
        facts["line_buffering"] = repr(stream.line_buffering)
        facts["buffer.fileno"] = outcome(stream.buffer.fileno)
    if name == "stdin":
        facts["read"] = outcome(stream.read)
        facts["buffer.read"] = outcome(stream.buffer.read)
    else:
        facts["write"] = outcome(lambda: stream.write("%s text %s\n" % (name, tag)))
        facts["buffer.write"] = outcome(
            lambda: stream.buffer.write(("%s bytes %s\n" % (name, tag)).encode())
        )
        facts["flush"] = outcome(stream.flush)
    return facts


def application(environ, start_response):
    tag = environ["QUERY_STRING"]
    lines = []
    for name in ("stdin", "stdout", "stderr"):
        for fact, value in describe(getattr(sys, name), name, tag).items():
            lines.append("%s.%s\t%s\n" % (name, fact, value))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["".join(lines).encode()]
