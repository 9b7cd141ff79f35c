# Runs once in each Apache child, after Python starts and sys.stdout and
# sys.stderr were pointed at Apache's error log. mod_rwsgi sets the names
# python_path (WSGIPythonPath), restrict_stdin, restrict_stdout and
# restrict_signal (WSGIRestrictStdin/Stdout/Signal), and ignored_signal_id
# (the identifier of the warning below, docs/errors.md) before running it.
import os
import signal
import site
import sys

for directory in python_path:
    # As mod_wsgi does: .pth files in these directories are honoured too.
    site.addsitedir(directory)


class RestrictedStream:
    """Stands for a standard stream that code in Apache may not use."""

    def __init__(self, name, directive):
        self._message = (
            "mod_rwsgi: sys.%s access is restricted (%s On); "
            "use the request's wsgi.input and wsgi.errors" % (name, directive)
        )

    def __getattr__(self, attribute):
        raise OSError(self._message)


if restrict_stdin:
    sys.stdin = RestrictedStream("stdin", "WSGIRestrictStdin")
if restrict_stdout:
    sys.stdout = RestrictedStream("stdout", "WSGIRestrictStdout")

if restrict_signal:
    # Signals belong to Apache: a handler installed by an app (in prefork,
    # on the child's main thread) would break graceful restarts and stops.
    def ignored_signal(signalnum, handler, getsignal=signal.getsignal):
        sys.stderr.write(
            "%s: mod_rwsgi (pid=%d): Callback registration for signal %d ignored "
            "(WSGIRestrictSignal On).\n" % (ignored_signal_id, os.getpid(), signalnum)
        )
        return getsignal(signalnum)

    signal.signal = ignored_signal
