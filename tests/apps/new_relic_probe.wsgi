# Says what the New Relic agent in this process was configured with: the
# app name of the section (environment) the agent read, or that the agent
# is not installed here; and whether the gateway called this app through
# the agent's WSGIApplicationWrapper (a caller's frame in its package).
import json
import sys


def _called_through_the_agent():
    frame = sys._getframe(1).f_back
    while frame is not None:
        if "/newrelic/" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def application(environ, start_response):
    try:
        import newrelic.agent
    except ImportError:
        answer = {"agent": None}
    else:
        answer = {
            "agent": newrelic.agent.global_settings().app_name,
            "wrapped": _called_through_the_agent(),
        }
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]
