# Answers with the application group the gateway reports: mod_rwsgi's
# name for it, or mod_wsgi's.
def application(environ, start_response):
    group = environ.get("mod_rwsgi.application_group", environ.get("mod_wsgi.application_group"))
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [repr(group).encode("utf-8")]
