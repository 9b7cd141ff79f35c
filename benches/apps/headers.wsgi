# Reads every request header from environ, as a framework building its
# request object does, and answers how many there were.
def application(environ, start_response):
    headers = {key[5:]: value for key, value in environ.items() if key.startswith("HTTP_")}
    body = str(len(headers)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
