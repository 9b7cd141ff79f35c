# Answers with environ's mod_wsgi.* keys, one "KEY<TAB>repr(value)" line
# per key, sorted, so a test can compare two gateways key by key.
def application(environ, start_response):
    keys = sorted(k for k in environ if k.startswith("mod_wsgi."))
    body = "".join("%s\t%r\n" % (k, environ[k]) for k in keys)
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [body.encode("utf-8")]
