# Answers with every key of environ, one "KEY<TAB>VALUE" line per key,
# sorted: repr() of values, the type's name for the objects the gateway
# provides (whose repr names an address).
OBJECTS = ("wsgi.input", "wsgi.errors", "wsgi.file_wrapper")


def application(environ, start_response):
    lines = []
    for key in sorted(environ):
        value = environ[key]
        shown = type(value).__name__ if key in OBJECTS else repr(value)
        lines.append("%s\t%s\n" % (key, shown))
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return ["".join(lines).encode("utf-8")]
