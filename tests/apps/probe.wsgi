# Reports on the Python it runs in, as JSON; the query string picks what:
#   sys              sys.prefix, flags, warnoptions, sys.path, bytecode
#   import=NAME      imports NAME and reports its __file__
#   stdin / stdout   tries to read sys.stdin / print to sys.stdout
#   signal           tries to install a SIGTERM handler
#   environ=KEY      the value of environ[KEY] (or null)
import json
import signal
import sys


def application(environ, start_response):
    query = environ["QUERY_STRING"]
    if query == "sys":
        answer = {
            "prefix": sys.prefix,
            "base_prefix": sys.base_prefix,
            "optimize": sys.flags.optimize,
            "hash_randomization": sys.flags.hash_randomization,
            "warnoptions": sys.warnoptions,
            "dont_write_bytecode": sys.dont_write_bytecode,
            "path": sys.path,
            "hash": hash("mod_rwsgi"),
        }
    elif query.startswith("import="):
        module = __import__(query[len("import="):])
        answer = {"file": module.__file__}
    elif query == "stdin":
        try:
            answer = {"read": sys.stdin.read()}
        except OSError as error:
            answer = {"error": str(error)}
    elif query == "stdout":
        try:
            print("printed by probe.wsgi")
            answer = {"printed": True}
        except OSError as error:
            answer = {"error": str(error)}
    elif query == "signal":
        before = signal.getsignal(signal.SIGTERM)
        try:
            signal.signal(signal.SIGTERM, lambda *args: None)
            answer = {"changed": signal.getsignal(signal.SIGTERM) is not before}
        except ValueError as error:
            answer = {"error": str(error)}
    elif query.startswith("environ="):
        answer = {"value": environ.get(query[len("environ="):])}
    else:
        raise ValueError("unknown probe " + query)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]
