def application(environ, start_response):
    case = environ["QUERY_STRING"]
    if case == "longer-than-declared":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"12345", b"6789"]
    if case == "shorter-than-declared":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
        return [b"only ", b"ten b"]
    if case == "generator-without-length":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (part for part in [b"a", b"b"])
    raise ValueError(case)
