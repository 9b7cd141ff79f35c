# What the process serving the request is: who it runs as, where, with
# which settings, and what environ says about it; one key<TAB>value line
# each.
import locale
import os
import sys


def application(environ, start_response):
    umask = os.umask(0)
    os.umask(umask)
    answer = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "groups": sorted(os.getgroups()),
        "cwd": os.getcwd(),
        "umask": umask,
        "lang": os.environ.get("LANG"),
        "lc_all": os.environ.get("LC_ALL"),
        "locale": locale.setlocale(locale.LC_ALL),
        "prefix": sys.prefix,
        "path": sys.path,
        "switch_interval": sys.getswitchinterval(),
        "process_group": environ.get("mod_rwsgi.process_group"),
        "application_group": environ.get("mod_rwsgi.application_group"),
        "multithread": environ["wsgi.multithread"],
        "multiprocess": environ["wsgi.multiprocess"],
    }
    start_response("200 OK", [("Content-Type", "text/plain")])
    lines = ["%s\t%s\n" % (key, value) for key, value in answer.items()]
    return ["".join(lines).encode()]
