# Answers with this thread's id and how many requests its threading.local
# has seen: a thread state destroyed between requests would reset it.
import threading

state = threading.local()


def application(environ, start_response):
    state.count = getattr(state, "count", 0) + 1
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%d %d" % (threading.get_ident(), state.count)).encode()]
