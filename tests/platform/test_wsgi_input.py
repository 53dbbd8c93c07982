"""Under gunicorn a request body is read whole (core.wsgi_input), not 1 KiB a loop,
and reads the same bytes as gunicorn's own Body would."""
from __future__ import annotations

import socket
import threading

import pytest
from gunicorn.http.body import Body, ChunkedReader, LengthReader
from gunicorn.http.unreader import SocketUnreader

from core.wsgi_input import WholeReadBody, whole_reads

PAYLOAD = bytes(range(256)) * 9000 + b"\nsecond line\nthird"  # ~2.3 MB, like a 50-report batch


class CountingReader:
    """A body reader that counts the calls made of it."""

    def __init__(self, reader):
        self.reader, self.calls = reader, 0

    def read(self, size):
        self.calls += 1
        return self.reader.read(size)


def sent(payload: bytes, chunked: bool = False):
    """(a gunicorn body reader over a socket the payload is written to, the sending thread)."""
    ours, theirs = socket.socketpair()
    wire = payload
    if chunked:
        wire = b"".join(b"%x\r\n%s\r\n" % (len(payload[i:i + 70000]), payload[i:i + 70000])
                        for i in range(0, len(payload), 70000)) + b"0\r\n\r\n"
    sender = threading.Thread(target=lambda: (theirs.sendall(wire), theirs.close()))
    sender.start()
    unreader = SocketUnreader(ours)
    if chunked:
        class Request:  # what ChunkedReader reads trailers into
            trailers = None

            @staticmethod
            def parse_headers(data, from_trailer=False):
                return []
        return ChunkedReader(Request, unreader), sender
    return LengthReader(unreader, len(payload)), sender


def through_application(body: Body):
    """The wsgi.input the wrapped application is given for `body`."""
    seen = {}
    whole_reads(lambda environ, start_response: seen.setdefault("input", environ["wsgi.input"]))(
        {"wsgi.input": body}, None)
    return seen["input"]


@pytest.mark.parametrize("chunked", [False, True])
def test_a_whole_body_read_asks_the_reader_a_few_times_not_once_a_kibibyte(chunked):
    reader, sender = sent(PAYLOAD, chunked)
    counted = CountingReader(reader)
    wsgi_input = through_application(Body(counted))
    assert isinstance(wsgi_input, WholeReadBody)
    assert wsgi_input.read(len(PAYLOAD) + 1) == PAYLOAD  # as Django's LimitedStream asks: the limit and one more
    sender.join()
    assert counted.calls <= 3  # gunicorn's own Body asks 1 KiB at a time: about 2,250 calls here


def test_gunicorns_own_body_asks_once_a_kibibyte():
    """The cost this module mends, seen by the same count (if gunicorn mends it, this fails: drop the module)."""
    reader, sender = sent(PAYLOAD)
    counted = CountingReader(reader)
    assert Body(counted).read(len(PAYLOAD) + 1) == PAYLOAD
    sender.join()
    assert counted.calls > len(PAYLOAD) // 1024


def test_partial_reads_and_lines_read_the_same_bytes_as_gunicorns_body():
    got = {}
    for name, wrap in (("gunicorn", Body), ("whole", lambda reader: through_application(Body(reader)))):
        reader, sender = sent(PAYLOAD)
        body = wrap(reader)
        got[name] = [body.read(10), body.read(5000), body.read(0), body.read(70000)]
        got[name] += [body.readline(), body.read(), body.read()]
        sender.join()
    assert got["whole"] == got["gunicorn"]
    assert b"".join(got["whole"]) == PAYLOAD


def test_any_other_wsgi_input_is_left_as_it_is():
    other = object()
    assert through_application(other) is other
