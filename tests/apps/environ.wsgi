import json


def application(environ, start_response):
    shown = {k: v for k, v in environ.items() if isinstance(v, (str, bool, int))}
    shown["wsgi.version"] = list(environ["wsgi.version"])
    shown["types"] = {k: type(v).__name__ for k, v in environ.items()}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(shown).encode()]
