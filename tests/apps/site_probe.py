# A stand-in for a site's WSGI entry point in the example configurations:
# answers with what a framework would read from environ, and where Python
# runs. SITE names the copy.
import json
import sys

SITE = "site"


def application(environ, start_response):
    answer = {
        "site": SITE,
        "SCRIPT_NAME": environ["SCRIPT_NAME"],
        "PATH_INFO": environ["PATH_INFO"],
        "REMOTE_ADDR": environ["REMOTE_ADDR"],
        "HTTP_HOST": environ.get("HTTP_HOST"),
        "url_scheme": environ["wsgi.url_scheme"],
        "authorization": environ.get("HTTP_AUTHORIZATION"),
        "prefix": sys.prefix,
    }
    body = json.dumps(answer, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


app = application
