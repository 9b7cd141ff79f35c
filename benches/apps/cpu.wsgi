# About a millisecond of pure Python per request (a page render's worth):
# the GIL is held throughout.
import json

ITEMS = [
    {"id": i, "name": "item %d" % i, "tags": ["a", "b", "c"], "price": i * 1.5}
    for i in range(1000)
]


def application(environ, start_response):
    body = json.dumps([dict(item, total=item["price"] * 2) for item in ITEMS]).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
