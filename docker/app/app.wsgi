"""A plain WSGI app: hello, its environment, an echo, a stream, an error."""

import json
import sys


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/environ':
        body = json.dumps({
            'SERVER_SOFTWARE': environ.get('SERVER_SOFTWARE'),
            'python': '%d.%d.%d' % sys.version_info[:3],
            'prefix': sys.prefix,
            'mod_rwsgi.version': environ.get('mod_rwsgi.version'),
            'mod_rwsgi.process_group': environ.get('mod_rwsgi.process_group'),
            'wsgi.multithread': environ.get('wsgi.multithread'),
        }).encode()
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [body]
    if path == '/echo':
        body = environ['wsgi.input'].read()
        start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                                  ('Content-Length', str(len(body)))])
        return [body]
    if path == '/stream':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return (('line %d\n' % i).encode() for i in range(1000))
    if path == '/error':
        raise RuntimeError('the example app fails on purpose')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'Hello from mod_rwsgi in httpd:2.4\n']
