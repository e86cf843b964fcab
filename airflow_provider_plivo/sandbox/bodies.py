"""Read a request the way a careful server does: within limits and a deadline, or not at all.

A bad or huge ``Content-Length`` is refused before a byte of the body is read; a chunked body
is decoded under the same cap. A body is copied to a buffer of bounded size in memory that spills
to a temporary file beyond :data:`SPOOL_BYTES`, so eight 60 MB uploads cost a few megabytes, not
eight times 60. A client that stops sending is cut off by the read timeout, and one that sends a
byte now and then (slowloris) by the whole request's deadline (:class:`DeadlineReader`). Every
refusal closes the connection, as the unread rest of the body would otherwise be taken for the
next request.
"""

from __future__ import annotations

import io
import re
import tempfile
import time
from typing import IO, TYPE_CHECKING, Any, Protocol

from airflow_provider_plivo.sandbox.responses import SandboxHTTPError

if TYPE_CHECKING:
    import socket

__all__ = ["MAX_BODY_BYTES", "SPOOL_BYTES", "BodyStream", "DeadlineReader", "RequestTimedOut", "read_body"]


class BodyStream(Protocol):
    """What a body is read from: the connection's buffered reader."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readline(self, size: int = -1, /) -> bytes: ...


MAX_BODY_BYTES = 64 * 1024 * 1024
"""The largest body the sandbox reads: ten 2 MB files and their multipart framing fit many times."""
SPOOL_BYTES = 1024 * 1024
"""Bytes of a body held in memory; the rest waits in a temporary file."""
_READ_SIZE = 64 * 1024
_CHUNK_SIZE_LINE = 1024
_HEX = re.compile(rb"[0-9a-fA-F]{1,16}")


class RequestTimedOut(TimeoutError):
    """The request (its line, headers and body) took longer than its deadline to arrive."""


class DeadlineReader(io.RawIOBase):
    """
    A connection's reads, each allowed the read timeout or what is left of the request's deadline,
    whichever is shorter: a timeout per read alone lets a client that sends a byte every few
    seconds hold a connection (and a thread) for ever.

    The deadline starts with the first byte of a request and ends at :meth:`reset`, which the
    server calls before each request and once a request's body is read (so waiting for the next
    request on a kept-alive connection, and writing the answer, get the plain read timeout).

    :param connection: the client's socket.
    :param read_timeout: seconds one read may wait.
    :param deadline: seconds a whole request may take to arrive.
    """

    def __init__(self, connection: socket.socket, *, read_timeout: float, deadline: float) -> None:
        super().__init__()
        self._connection = connection
        self._read_timeout = read_timeout
        self._deadline = deadline
        self._ends: float | None = None

    def readable(self) -> bool:
        return True

    def reset(self) -> None:
        """The request so far is read: the next one's deadline starts with its first byte."""
        self._ends = None
        self._connection.settimeout(self._read_timeout)

    def readinto(self, buffer: Any) -> int:
        timeout = self._read_timeout
        if self._ends is not None:
            left = self._ends - time.monotonic()
            if left <= 0:
                raise RequestTimedOut(f"the request took longer than its {self._deadline:g} s deadline")
            timeout = min(timeout, left)
        self._connection.settimeout(timeout)
        try:
            received = self._connection.recv_into(buffer)
        except TimeoutError:
            if self._ends is not None and self._ends <= time.monotonic():
                raise RequestTimedOut(
                    f"the request took longer than its {self._deadline:g} s deadline"
                ) from None
            raise
        if received and self._ends is None:
            self._ends = time.monotonic() + self._deadline
        return received


def read_body(headers: Any, rfile: BodyStream, limit: int = MAX_BODY_BYTES) -> IO[bytes]:
    """The body of the request whose ``headers`` were just read from ``rfile``, as a file at its
    start (in memory up to :data:`SPOOL_BYTES`, then on disk); the caller closes it.

    :raises SandboxHTTPError: 400 for a body that cannot be read, 408 when it stops arriving or
        the request's deadline passes.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 - returned open
    try:
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            _read_chunked(rfile, spool, limit)
        else:
            _read_exactly(rfile, spool, _content_length(headers, limit))
    except RequestTimedOut as err:
        spool.close()
        raise SandboxHTTPError(408, str(err)) from None
    except TimeoutError:
        spool.close()
        raise SandboxHTTPError(408, "the request body stopped arriving: read timed out") from None
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _content_length(headers: Any, limit: int) -> int:
    values = set(headers.get_all("Content-Length") or [])
    if not values:
        return 0
    if len(values) > 1:
        raise SandboxHTTPError(400, f"conflicting Content-Length headers: {', '.join(sorted(values))}")
    text = values.pop().strip()
    if not (text.isascii() and text.isdigit()):
        raise SandboxHTTPError(400, f"Content-Length {text!r} is not a number of bytes")
    length = int(text)
    if length > limit:
        raise SandboxHTTPError(400, f"Content-Length {length} exceeds the {limit} byte limit")
    return length


def _read_exactly(rfile: BodyStream, spool: IO[bytes], length: int) -> None:
    left = length
    while left:
        piece = rfile.read(min(left, _READ_SIZE))
        if not piece:
            raise SandboxHTTPError(400, f"the body ended after {length - left} of {length} bytes")
        spool.write(piece)
        left -= len(piece)


def _read_chunked(rfile: BodyStream, spool: IO[bytes], limit: int) -> None:
    read = 0
    while True:
        size_text = rfile.readline(_CHUNK_SIZE_LINE).split(b";")[0].strip()
        if not _HEX.fullmatch(size_text):
            raise SandboxHTTPError(400, f"malformed chunked body: chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        if read + size > limit:
            raise SandboxHTTPError(400, f"chunked body exceeds the {limit} byte limit")
        _read_exactly(rfile, spool, size)
        read += size
        if rfile.read(2) != b"\r\n":
            raise SandboxHTTPError(400, "malformed chunked body: a chunk does not end with CRLF")
    while rfile.readline(_CHUNK_SIZE_LINE) not in (b"\r\n", b"\n", b""):
        pass  # trailer fields: nothing the sandbox uses
