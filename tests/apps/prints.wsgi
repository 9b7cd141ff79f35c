import sys
import threading


def application(environ, start_response):
    print("printed to stdout by the app")
    print("printed to stderr by the app", file=sys.stderr)
    sys.stdout.write("partial ")
    sys.stdout.write("line completed\n")
    thread = threading.Thread(target=lambda: print("printed by a thread of the app"))
    thread.start()
    thread.join()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"printed\n"]
