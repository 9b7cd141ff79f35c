# Echoes the request body, read the way the query string names.
def application(environ, start_response):
    stream = environ["wsgi.input"]
    how = environ.get("QUERY_STRING", "")
    if how == "read":
        body = stream.read()
    elif how.startswith("read-"):
        size = int(how[5:])
        pieces = []
        while True:
            piece = stream.read(size)
            if not piece:
                break
            assert len(piece) <= size
            pieces.append(piece)
        body = b"".join(pieces)
    elif how == "readline":
        body = b"".join(iter(stream.readline, b""))
    elif how.startswith("readline-"):
        size = int(how[9:])
        body = b"".join(iter(lambda: stream.readline(size), b""))
    elif how == "line-lengths":
        import json
        lengths = [len(line) for line in iter(stream.readline, b"")]
        body = json.dumps(lengths).encode()
    elif how == "readlines":
        body = b"".join(stream.readlines())
    elif how == "iterate":
        body = b"".join(line for line in stream)
    else:
        raise ValueError("unknown read method %r" % how)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]
