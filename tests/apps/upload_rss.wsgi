# Reads the whole body in 64 KiB pieces without keeping it, and reports how
# many bytes arrived and the child's resident memory along the way.
import json


def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def application(environ, start_response):
    stream = environ["wsgi.input"]
    received = 0
    first = stream.read(65536)
    received += len(first)
    rss_start = rss_max = rss_kib()
    next_sample = 0
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        received += len(piece)
        if received >= next_sample:
            rss_max = max(rss_max, rss_kib())
            next_sample = received + 16 * 1024 * 1024
    rss_max = max(rss_max, rss_kib())
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"received": received, "rss_start_kib": rss_start, "rss_max_kib": rss_max}).encode()]
