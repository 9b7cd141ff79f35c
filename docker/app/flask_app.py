"""A Flask app, imported from the virtualenv WSGIPythonHome names."""

import sys
from importlib.metadata import version

from flask import Flask, request

app = Flask(__name__)


@app.route('/')
def hello():
    return f'Hello from Flask {version('flask')} in {sys.prefix}\n'


@app.route('/form', methods=['POST'])
def form():
    return {'name': request.form['name']}
