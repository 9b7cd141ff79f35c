# Access and authentication functions as mod_wsgi's WSGIAccessScript,
# WSGIAuthUserScript and WSGIAuthGroupScript call them.
import hashlib

USERS = {"alice": "s3cret", "bob": "hunter2", "crash": "x", "odd": "x"}
GROUPS = {"alice": ["admin", "staff"], "bob": [b"staff"]}


def check_password(environ, user, password):
    if user == "crash":
        raise RuntimeError("the user database is down")
    if user == "odd":
        return "yes"
    if user not in USERS:
        return None
    return USERS[user] == password


def get_realm_hash(environ, user, realm):
    if user not in USERS:
        return None
    return hashlib.md5(("%s:%s:%s" % (user, realm, USERS[user])).encode()).hexdigest()


def groups_for_user(environ, user):
    return GROUPS.get(user, [])


def allow_access(environ, host):
    # The query string decides, so that one script serves every case.
    return {"allow": True, "deny": False, "none": None}[environ["QUERY_STRING"]]
