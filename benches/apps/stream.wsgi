# 1 MiB streamed as 64 chunks of 16 KiB from a generator.
CHUNK = b"s" * 16384


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return (CHUNK for _ in range(64))
