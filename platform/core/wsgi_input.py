"""Request bodies read whole under gunicorn, not a kibibyte at a time.

gunicorn's sync worker gives the application a wsgi.input
(gunicorn.http.body.Body) whose read() fills its buffer 1,024 bytes a Python
loop, copying the socket's 8 KiB chunk each time (benoitc/gunicorn#2596, open):
a 2.3 MB batch upload took about 7 ms of CPU that way, a tenth of the web
worker's CPU per layer row, against 1.5 ms asking the reader for all of it at
once. `whole_reads` wraps the WSGI application so that such a body is read
that way; any other wsgi.input (runserver, the test client) is left as it is.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    from gunicorn.http.body import Body
except ImportError:  # gunicorn is the production server; without it there is nothing to mend
    Body = None


if Body is not None:
    class WholeReadBody(Body):
        """gunicorn's Body, asking its reader (a Length, Chunked or EOF reader,
        which gathers socket-sized chunks) for everything a read() lacks in one call."""

        def read(self, size=None):
            size = self.getsize(size)
            missing = size - self.buf.tell()
            if missing > 0:
                self.buf.write(self.reader.read(missing))
            return super().read(size)  # served from the buffer (its loop finds the reader spent)


def whole_reads(app: Callable) -> Callable:
    """The WSGI application `app`, its gunicorn request bodies read as WholeReadBody."""
    if Body is None:
        return app

    def application(environ: dict[str, Any], start_response: Callable) -> Any:
        body = environ.get("wsgi.input")
        if type(body) is Body:
            environ["wsgi.input"] = WholeReadBody(body.reader)  # nothing is read yet: its buffer is empty
        return app(environ, start_response)

    return application
