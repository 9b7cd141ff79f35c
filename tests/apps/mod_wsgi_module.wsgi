# What `import mod_wsgi` gives, one "name<TAB>value" line each, and the
# events it publishes. The query string picks:
#   facts       the module's names and values
#   subscribe   subscribes the callbacks below (event names and their
#               keyword names are kept; process_stopping leaves markers)
#   heard       what the event callback heard so far, one event a line
#   replace     subscribes a callback that replaces the app (returns the
#               application_object of request_started)
#   raising     subscribes a callback that raises
#   same        whether `import mod_rwsgi` is the same module
import os

import mod_wsgi

_markers = os.path.join(os.path.dirname(os.path.dirname(__file__)), "markers")
_heard = []


def _mark(name):
    open(os.path.join(_markers, name), "w").close()


def _on_event(name, **event):
    _heard.append("%s %s" % (name, ",".join(sorted(event))))
    if name == "request_finished":
        _heard.append("application_time %s" % type(event["application_time"]).__name__)
    if name == "process_stopping":
        _mark("event-%s-%d" % (name, os.getpid()))


def _on_shutdown(name, **event):
    _mark("shutdown-%s-%r-%d" % (name, event.get("shutdown_reason"), os.getpid()))


def _replacing(name, **event):
    if name == "request_started":
        return {"application_object": _replacement}


def _replacement(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"replaced by an event callback\n"]


def _raising(name, **event):
    raise ValueError("raised by an event callback")


def _outcome(call):
    try:
        return repr(call())
    except Exception as e:
        return "raises %s: %s" % (type(e).__name__, e)


def _facts(environ):
    request_id = environ.get("mod_wsgi.request_id")
    metrics = mod_wsgi.process_metrics()
    facts = {
        "pid": os.getpid(),
        "names": ",".join(sorted(n for n in dir(mod_wsgi) if not n.startswith("_"))),
        "__name__": mod_wsgi.__name__,
        "__file__": repr(getattr(mod_wsgi, "__file__", None)),
        "version": repr(mod_wsgi.version),
        "process_group": repr(mod_wsgi.process_group),
        "application_group": repr(mod_wsgi.application_group),
        "application_group_is_environs": repr(
            mod_wsgi.application_group == environ["mod_wsgi.application_group"]
        ),
        "maximum_processes": repr(mod_wsgi.maximum_processes),
        "threads_per_process": repr(mod_wsgi.threads_per_process),
        "event_callbacks": repr(mod_wsgi.event_callbacks),
        "shutdown_callbacks": repr(mod_wsgi.shutdown_callbacks),
        "active_requests_are_this_one": repr(list(mod_wsgi.active_requests) == [request_id]),
        "request_data": _outcome(mod_wsgi.request_data),
        "request_data_is_active_requests_entry": repr(
            mod_wsgi.request_data() is mod_wsgi.active_requests.get(request_id)
        ),
        "FileWrapper_is_wsgi_file_wrapper": repr(
            mod_wsgi.FileWrapper is environ["wsgi.file_wrapper"]
        ),
        "process_metrics": ",".join(
            "%s:%s" % (k, type(v).__name__) for k, v in sorted(metrics.items())
        ),
        "process_metrics.pid_is_getpid": repr(metrics["pid"] == os.getpid()),
        "process_metrics.threads": ",".join(
            sorted(k for thread in metrics["threads"] for k in thread)
        ),
        "server_metrics_daemon": type(mod_wsgi.server_metrics()).__name__,
        "request_metrics": _outcome(mod_wsgi.request_metrics),
    }
    return "".join("%s\t%s\n" % item for item in sorted(facts.items()))


def application(environ, start_response):
    query = environ["QUERY_STRING"]
    if query == "facts":
        body = _facts(environ)
    elif query == "subscribe":
        mod_wsgi.subscribe_events(_on_event)
        mod_wsgi.subscribe_shutdown(_on_shutdown)
        body = "subscribed\n"
    elif query == "heard":
        body = "".join(line + "\n" for line in _heard)
    elif query == "replace":
        mod_wsgi.subscribe_events(_replacing)
        body = "subscribed\n"
    elif query == "raising":
        mod_wsgi.subscribe_events(_raising)
        body = "subscribed\n"
    elif query == "same":
        import mod_rwsgi

        body = "%r\n" % (mod_rwsgi is mod_wsgi)
    else:
        body = "request_data: %s\n" % _outcome(mod_wsgi.request_data)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
