# A small Flask application for comparing mod_rwsgi with mod_wsgi: forms,
# JSON, redirects, cookies and the session, uploads, streaming, errors.
from flask import Flask, Response, abort, jsonify, redirect, request, session, stream_with_context, url_for

app = Flask(__name__)
app.secret_key = "a fixed key for a comparable session"


@app.route("/")
def index():
    return "index of %s at %s" % (request.host, request.script_root or "/")


@app.route("/json")
def json_view():
    return jsonify(path=request.path, args=request.args, method=request.method)


@app.route("/form", methods=["GET", "POST"])
def form():
    if request.method == "POST":
        return "posted name=%s items=%s" % (request.form.get("name"), request.form.getlist("item"))
    return '<form method="post"><input name="name"></form>'


@app.route("/redirect")
def go_elsewhere():
    return redirect(url_for("json_view", next="yes"))


@app.route("/login", methods=["POST"])
def login():
    session["user"] = request.form["user"]
    return redirect(url_for("whoami"))


@app.route("/whoami")
def whoami():
    return "user=%s" % session.get("user", "anonymous")


@app.route("/cookie")
def cookie():
    response = Response("cookie set; had=%s" % request.cookies.get("flavour"))
    response.set_cookie("flavour", "oatmeal", path="/", httponly=True)
    return response


@app.route("/upload", methods=["POST"])
def upload():
    upload = request.files["file"]
    data = upload.read()
    return "uploaded %s %d bytes, sum %d" % (upload.filename, len(data), sum(data))


@app.route("/stream")
def stream():
    def generate():
        for i in range(50):
            yield "chunk %d\n" % i

    return Response(stream_with_context(generate()), mimetype="text/plain")


@app.route("/status/<int:code>")
def status(code):
    abort(code)


@app.route("/crash")
def crash():
    raise RuntimeError("the view failed")


@app.route("/echo-headers")
def echo_headers():
    return jsonify({k: v for k, v in request.headers.items() if k.startswith("X-")})


@app.route("/unicode/<name>")
def unicode_view(name):
    return "héllo %s" % name
