# Answers with the status in the query string ("404", "401", "200") and a
# body of its own, which WSGIErrorOverride may replace.
def application(environ, start_response):
    code = environ["QUERY_STRING"] or "200"
    reasons = {"200": "OK", "401": "Unauthorized", "404": "Not Found", "500": "Internal Server Error"}
    headers = [("Content-Type", "text/plain"), ("X-From-App", "yes")]
    if code == "401":
        headers.append(("WWW-Authenticate", 'Basic realm="app"'))
    start_response("%s %s" % (code, reasons[code]), headers)
    return [b"the app's own body for " + code.encode()]
