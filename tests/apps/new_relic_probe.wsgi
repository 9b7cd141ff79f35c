# Says what the New Relic agent in this process was configured with: the
# app name of the section (environment) the agent read, or that the agent
# is not installed here.
import json


def application(environ, start_response):
    try:
        import newrelic.agent
    except ImportError:
        answer = {"agent": None}
    else:
        answer = {"agent": newrelic.agent.global_settings().app_name}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(answer).encode()]
