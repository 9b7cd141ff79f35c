# Answers with the CGI part of environ (every key without a dot) and
# wsgi.url_scheme, one "KEY<TAB>repr(value)" line per key, sorted, so a
# test can compare two gateways key by key.
def application(environ, start_response):
    keys = sorted(k for k in environ if "." not in k or k == "wsgi.url_scheme")
    body = "".join("%s\t%r\n" % (k, environ[k]) for k in keys)
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body.encode("utf-8")]
