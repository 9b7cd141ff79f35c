# Keeps the per-request objects of the first request and uses them during a
# later one: each use must raise, never touch the ended request.
kept = {}


def application(environ, start_response):
    if environ["QUERY_STRING"] == "keep":
        kept["input"] = environ["wsgi.input"]
        kept["errors"] = environ["wsgi.errors"]
        kept["start_response"] = start_response
        kept["write"] = start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"kept\n"]
    results = []
    for name, use in [
        ("input", lambda: kept["input"].read()),
        ("errors", lambda: kept["errors"].write("late line\n")),
        ("start_response", lambda: kept["start_response"]("200 OK", [])),
        ("write", lambda: kept["write"](b"late")),
    ]:
        try:
            use()
            results.append("%s: no error" % name)
        except RuntimeError as exc:
            results.append("%s: RuntimeError: %s" % (name, exc))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["\n".join(results).encode()]
