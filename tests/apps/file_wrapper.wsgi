# Returns environ['wsgi.file_wrapper'] around DOCUMENT_ROOT/data.bin, set up
# as the query string says.
import io
import os
import tempfile


class ClosingFile(io.FileIO):
    """A real file that leaves a marker when it is closed."""

    def __init__(self, path, marker):
        super().__init__(path, "rb")
        self.marker = marker

    def close(self):
        open(self.marker, "w").close()
        super().close()


class ClosingBytes(io.BytesIO):
    """An in-memory file (no fileno) that leaves a marker when closed."""

    def __init__(self, data, marker):
        super().__init__(data)
        self.marker = marker

    def close(self):
        open(self.marker, "w").close()
        super().close()


def application(environ, start_response):
    case = environ["QUERY_STRING"]
    path = os.path.join(environ["DOCUMENT_ROOT"], "data.bin")
    markers = os.path.join(os.path.dirname(environ["DOCUMENT_ROOT"]), "markers")
    headers = [("Content-Type", "application/octet-stream")]
    blksize = None
    if case == "whole":
        filelike = open(path, "rb")
    elif case == "from-position":
        filelike = open(path, "rb")
        filelike.read(1000)  # buffered: the OS position is further on
    elif case == "content-length":
        filelike = open(path, "rb")
        headers.append(("Content-Length", "500"))
    elif case == "longer-than-file":
        filelike = open(path, "rb")
        headers.append(("Content-Length", str(os.path.getsize(path) + 100)))
    elif case == "closes-file":
        filelike = ClosingFile(path, os.path.join(markers, "file-closed"))
    elif case == "large":
        filelike = open(os.path.join(environ["DOCUMENT_ROOT"], "large.bin"), "rb")
    elif case == "temporary":
        filelike = tempfile.TemporaryFile()  # no name: unlinked, or O_TMPFILE
        with open(path, "rb") as f:
            filelike.write(f.read())
        filelike.seek(0)
    elif case == "in-memory":
        with open(path, "rb") as f:
            filelike = ClosingBytes(f.read(), os.path.join(markers, "bytes-closed"))
        blksize = 4096
    else:
        raise ValueError("unknown case " + case)
    start_response("200 OK", headers)
    wrapper = environ["wsgi.file_wrapper"]
    return wrapper(filelike) if blksize is None else wrapper(filelike, blksize)
