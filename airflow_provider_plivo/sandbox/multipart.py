"""Split a ``multipart/form-data`` body (RFC 7578) into its parts with python-multipart, saying in
the sandbox's own words what is wrong with a malformed one.

python-multipart (the sandbox extra; Airflow's API server installs it too) does the parsing. Around
it this module adds what Plivo's endpoint accepts and python-multipart does not: a preamble before
the first delimiter, and an RFC 5987 ``filename*=UTF-8''...``, which wins over the plain
``filename`` (older clients send both). File bytes are never decoded.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from urllib.parse import unquote

try:
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header
except ImportError as err:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "the Plivo sandbox needs python-multipart: pip install 'airflow-provider-plivo[sandbox]'",
        name=err.name,
    ) from err

__all__ = ["FormPart", "MultipartError", "parse_form_data"]

_MAX_BOUNDARY = 70
"""RFC 2046's longest boundary."""
_EXTENDED_FILE_NAME = re.compile(r";\s*filename\*\s*=\s*([^;]*)", re.IGNORECASE)
_QUIET = logging.getLogger(__name__ + ".python_multipart")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False
"""python-multipart logs a warning for every malformed body; the sandbox answers it with a 400."""


@dataclass(frozen=True)
class FormPart:
    """One part of a form: its field name, file name ("" when not a file), type and bytes."""

    name: str
    file_name: str
    content_type: str
    data: bytes


class MultipartError(ValueError):
    """The body is not the ``multipart/form-data`` its ``Content-Type`` promised."""


@dataclass
class _Parts:
    """What python-multipart's callbacks report, gathered into parts."""

    parts: list[FormPart] = field(default_factory=list)
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    ended: bool = False

    def begin(self) -> None:
        self.headers, self.data = [], []

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.headers.append((data[start:end], b""))

    def header_value(self, data: bytes, start: int, end: int) -> None:
        name, value = self.headers[-1]
        self.headers[-1] = (name, value + data[start:end])

    def part_data(self, data: bytes, start: int, end: int) -> None:
        self.data.append(data[start:end])

    def part_end(self) -> None:
        self.parts.append(_part(len(self.parts) + 1, self.headers, b"".join(self.data)))

    def end(self) -> None:
        self.ended = True


def parse_form_data(content_type: str, body: bytes) -> list[FormPart]:
    """Return the parts of ``body`` in order; raise :class:`MultipartError` saying what is wrong."""
    kind, options = parse_options_header(content_type)
    # Media types and parameter names are case-insensitive (RFC 9110); python-multipart before
    # 0.0.34 (the newest on Python 3.10) keeps them as written.
    kind = kind.lower()
    params = {name.lower(): value for name, value in options.items()}
    if kind != b"multipart/form-data":
        raise MultipartError(f"the body must be multipart/form-data, not {kind.decode() or 'untyped'}")
    boundary = params.get(b"boundary", b"")
    if not 1 <= len(boundary) <= _MAX_BOUNDARY:
        raise MultipartError("multipart/form-data needs a boundary of 1 to 70 characters")
    start = _first_delimiter(body, boundary)
    if start is None:
        raise MultipartError("malformed multipart body: the boundary never occurs")
    found = _Parts()
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": found.begin,
            "on_header_field": found.header_field,
            "on_header_value": found.header_value,
            "on_part_data": found.part_data,
            "on_part_end": found.part_end,
            "on_end": found.end,
        },
    )
    parser.logger = _QUIET
    try:
        parser.write(body[start:])
    except MultipartParseError:
        raise _diagnose(body, boundary, len(found.parts) + 1) from None
    if not found.ended:
        raise MultipartError("malformed multipart body: no closing boundary (was it cut short?)")
    return found.parts


def _first_delimiter(body: bytes, boundary: bytes) -> int | None:
    """Where the first delimiter line (``--boundary`` then CRLF, or ``--`` to close) starts:
    whatever comes before it is a preamble, which RFC 2046 says to ignore."""
    dashed = b"--" + boundary
    at = 0 if body.startswith(dashed) else body.find(b"\r\n" + dashed)
    while at != -1:
        line = at if body.startswith(dashed, at) else at + 2
        if body.startswith((b"\r\n", b"--"), line + len(dashed)):
            return line
        at = body.find(b"\r\n" + dashed, line + 1)
    return None


def _diagnose(body: bytes, boundary: bytes, number: int) -> MultipartError:
    """Say what is wrong with part ``number``'s headers, which python-multipart refused."""
    segments = (b"\r\n" + body).split(b"\r\n--" + boundary)
    segment = segments[number] if number < len(segments) else b""
    segment = segment.split(b"\r\n", 1)[1] if b"\r\n" in segment else b""
    if not segment.startswith(b"\r\n") and b"\r\n\r\n" not in segment:
        return MultipartError(f"malformed multipart body: part {number} has no blank line after its headers")
    for line in _decode(segment.split(b"\r\n\r\n", 1)[0]).split("\r\n"):
        if ":" not in line:
            return MultipartError(f"malformed multipart body: part {number} has a header line {line!r}")
    return MultipartError(f"malformed multipart body: part {number} has a malformed header")


def _part(number: int, raw_headers: list[tuple[bytes, bytes]], data: bytes) -> FormPart:
    headers = {_decode(name).strip().lower(): _decode(value).strip() for name, value in raw_headers}
    disposition_header = headers.get("content-disposition", "")
    # Latin-1 in and out keeps python-multipart's byte-for-byte header parsing; UTF-8 comes after.
    disposition, params = parse_options_header(disposition_header.encode().decode("latin-1"))
    if disposition != b"form-data" or b"name" not in params:
        raise MultipartError(f"part {number} lacks 'Content-Disposition: form-data; name=...'")
    file_name = _decode(params.get(b"filename", b""))
    if extended := _EXTENDED_FILE_NAME.search(disposition_header):
        charset, _, encoded = extended[1].strip().strip('"').partition("''")
        try:
            file_name = unquote(encoded, encoding=charset or "utf-8", errors="replace")
        except LookupError:
            raise MultipartError(f"unknown charset {charset!r} in filename*") from None
    return FormPart(
        name=_decode(params[b"name"]),
        file_name=file_name,
        content_type=headers.get("content-type", "application/octet-stream"),
        data=data,
    )


def _decode(raw: bytes) -> str:
    """Part headers are UTF-8 in practice (file names with accents); fall back byte for byte."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")
