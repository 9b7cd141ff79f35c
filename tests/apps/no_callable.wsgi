def something_else(environ, start_response):
    return []
