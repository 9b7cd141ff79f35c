# Waits as the query string says before answering: "sleep=S" sleeps S
# seconds (the GIL released), "spin=S" runs Python for S seconds, "cpu=S"
# until the process has used S seconds of CPU time (however loaded the
# machine), "exit" ends the process mid-request, "marker=NAME" leaves a
# marker first.
import os
import time


def application(environ, start_response):
    query = dict(
        part.split("=", 1) if "=" in part else (part, "")
        for part in environ.get("QUERY_STRING", "").split("&")
        if part
    )
    if "marker" in query:
        markers = os.path.join(os.path.dirname(environ["DOCUMENT_ROOT"]), "markers")
        open(os.path.join(markers, query["marker"]), "w").close()
    if "exit" in query:
        os._exit(7)
    if "sleep" in query:
        time.sleep(float(query["sleep"]))
    if "spin" in query:
        end = time.monotonic() + float(query["spin"])
        while time.monotonic() < end:
            pass
    if "cpu" in query:
        while time.process_time() < float(query["cpu"]):
            pass
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"pid %d\n" % os.getpid()]
