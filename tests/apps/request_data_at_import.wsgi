# Calls mod_wsgi.request_data() while the script is imported, outside any
# request's call of the app, and answers what happened.
import mod_wsgi

try:
    _at_import = "returned %r" % (mod_wsgi.request_data(),)
except Exception as e:
    _at_import = "%s: %s" % (type(e).__name__, e)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("at import: %s\n" % _at_import).encode()]
