# A 10 MiB file through wsgi.file_wrapper (the same file Apache also serves
# statically); its path is in the BENCH_FILE environment variable (SetEnv).
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](open(environ["BENCH_FILE"], "rb"), 65536)
