# Run by rwsgi-express before Apache starts, as the user Apache's children
# will run as: loads the application the way mod_rwsgi will and exits 0 if
# its callable is there; otherwise prints one line and exits non-zero.
# argv: kind (script|module), target (path or module), callable, path...
import importlib
import sys

kind, target, name = sys.argv[1:4]
sys.path[0:0] = sys.argv[4:]
try:
    if kind == "script":
        with open(target, "rb") as source:
            code = compile(source.read(), target, "exec")
        namespace = {"__file__": target, "__name__": "_rwsgi_express_check"}
        exec(code, namespace)
        found = name in namespace
        where = "the WSGI script %s" % target
    else:
        module = importlib.import_module(target)
        found = hasattr(module, name)
        where = "the module %s" % target
except PermissionError as error:
    print("cannot read %s: %s" % (error.filename or target, error.strerror), file=sys.stderr)
    sys.exit(5)
except BaseException as error:
    print("%s failed to load: %s: %s" % (target, type(error).__name__, error), file=sys.stderr)
    sys.exit(4)
if not found:
    print("%s has no callable '%s'" % (where, name), file=sys.stderr)
    sys.exit(3)
