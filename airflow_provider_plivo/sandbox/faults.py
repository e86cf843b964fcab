"""Faults the sandbox can inject into upload and send requests, scripted by number or at random.

Each kind models something Plivo or the network between does; what it does to the store
matters for tests that count lost files and duplicates:

=================  ===================================================  ================
kind               the client sees                                      media stored?
=================  ===================================================  ================
``400``            HTTP 400 with Plivo's error body (not retryable)     no
``500``/``503``    HTTP 500/503 with Plivo's error body                 no
``429``            HTTP 429 "too many requests", no ``Retry-After``     no
``429-retry``      HTTP 429 with ``Retry-After: 1``                     no
``html-502``       HTTP 502 with an HTML page from a gateway            no
``truncated``      HTTP 200 whose JSON body is cut short                no
``reset``          the connection reset before any answer               no
``lost``           the connection reset after the upload was stored     yes
``hang``           no answer until ``hang_seconds`` pass, then a reset  no
``failed-object``  HTTP 200, but the first file's object has failed     all but that one
=================  ===================================================  ================

On sends (``message_faults``) the same kinds apply, "stored" meaning the message was queued,
except ``failed-object``. Reads of message status (``GET Message/{uuid}/`` and ``GET Message/``,
scripted with ``script_faults(..., endpoint="status")``) take the kinds that answer instead.

Faults are scripted three ways, on any endpoint: by request number (the 3rd upload), by count
(the next 5 status reads) and by time (every status read for the next 20 s by the sandbox
clock, which :meth:`~airflow_provider_plivo.sandbox.server.PlivoSandbox.advance_clock` moves: an
outage "for 20 s" ends when that clock is 20 s on). The command line writes them as
:data:`FAULT_GRAMMAR` says (:func:`parse_fault`).

An endpoint asks :func:`answer_instead` first: a kind with an answer of its own replaces the
endpoint's work. ``lost`` and ``failed-object`` let the endpoint act, then shape its answer:
:func:`after_acting` drops the connection of a ``lost`` request, and an upload whose fault
:func:`fails_first_object` stores all files but the first and reports that one with
:func:`failed_object`.
"""

from __future__ import annotations

import math
import random
import re
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.sandbox.responses import Response, error_response, new_api_id

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

__all__ = [
    "ENDPOINTS",
    "FAULT_GRAMMAR",
    "FAULT_KINDS",
    "MESSAGE_FAULT_KINDS",
    "RANDOM_FAULT_KINDS",
    "STATUS_FAULT_KINDS",
    "FaultPlan",
    "ScriptedFault",
    "after_acting",
    "answer_instead",
    "check_fault_kind",
    "failed_object",
    "fails_first_object",
    "finite_number",
    "parse_fault",
]

FAULT_KINDS = (
    "400",
    "500",
    "503",
    "429",
    "429-retry",
    "html-502",
    "truncated",
    "reset",
    "lost",
    "hang",
    "failed-object",
)
MESSAGE_FAULT_KINDS = tuple(kind for kind in FAULT_KINDS if kind != "failed-object")
"""Kinds a send can get: it has no per-file objects to fail."""
STATUS_FAULT_KINDS = tuple(kind for kind in MESSAGE_FAULT_KINDS if kind != "lost")
"""Kinds a status read can get: it changes nothing, so nothing can be lost."""
RANDOM_FAULT_KINDS = ("500", "503", "429", "reset", "lost")
"""Kinds drawn by ``fault_rate`` unless others are named: all recoverable by a retry."""
ENDPOINTS = {"media": FAULT_KINDS, "message": MESSAGE_FAULT_KINDS, "status": STATUS_FAULT_KINDS}
"""Where faults can be scripted (uploads, sends, reads of message status) and the kinds each takes."""
FAULT_GRAMMAR = (
    "N:KIND (the Nth request), KINDxCOUNT (the next COUNT requests) or KIND:SECONDSs (every "
    "request for SECONDS by the sandbox clock), each after an optional ENDPOINT=: media "
    "(uploads, the default), message (sends) or status (message reads); e.g. 2:503, "
    "status=503x5, status=503:20s"
)
"""How the ``plivo-sandbox --fault`` option writes a scripted fault."""


@dataclass(frozen=True, kw_only=True)
class ScriptedFault:
    """One scripted fault, as the command line or ``POST /_sandbox/faults`` gives it: ``kind`` on
    ``endpoint`` for request number ``request``, for the next ``count`` requests, or for every
    request during the next ``seconds`` (exactly one of the three)."""

    endpoint: str
    kind: str
    request: int | None = None
    count: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown fault endpoint {self.endpoint!r}; known: {', '.join(ENDPOINTS)}")
        check_fault_kind(self.kind, ENDPOINTS[self.endpoint])
        given = [name for name in ("request", "count", "seconds") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a fault needs exactly one of request, count or seconds, got {given or 'none'}")
        for name in ("request", "count"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"fault {name} must be a whole number, 1 or more, got {value!r}")
        if self.seconds is not None and (not finite_number(self.seconds) or self.seconds <= 0):
            raise ValueError(f"fault seconds must be a number more than 0, got {self.seconds!r}")


_FAULT_FORMS = (  # by time first: "503:20s" would otherwise read as request 503, kind "20s"
    (re.compile(r"(?P<kind>[a-z0-9-]+):(?P<seconds>\d+(?:\.\d+)?)s"), "seconds"),
    (re.compile(r"(?P<kind>[a-z0-9-]+)x(?P<count>\d+)"), "count"),
    (re.compile(r"(?P<request>\d+):(?P<kind>[a-z0-9-]+)"), "request"),
)


def finite_number(value: object) -> bool:
    """Whether ``value`` is an int or float (not a bool) other than inf and NaN: what a count of
    seconds or milliseconds from JSON or Python may be."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def parse_fault(text: str) -> ScriptedFault:
    """A fault as :data:`FAULT_GRAMMAR` writes it, e.g. ``status=503:20s``."""
    endpoint, _, spec = text.rpartition("=")
    for pattern, form in _FAULT_FORMS:
        if match := pattern.fullmatch(spec):
            value = match[form]
            try:
                return ScriptedFault(
                    endpoint=endpoint or "media",
                    kind=match["kind"],
                    request=int(value) if form == "request" else None,
                    count=int(value) if form == "count" else None,
                    seconds=float(value) if form == "seconds" else None,
                )
            except ValueError as err:
                raise ValueError(f"{text!r}: {err}") from None
    raise ValueError(f"{text!r}: expected {FAULT_GRAMMAR}")


@dataclass
class _Spell:
    """Faults for a count of requests or until a time, from when they were scripted."""

    kind: str
    left: int | None = None
    until: datetime | None = None

    def applies(self, now: datetime) -> bool:
        return (self.left is None or self.left > 0) and (self.until is None or now < self.until)


class FaultPlan:
    """Decides which request to one endpoint (uploads, sends or status reads) gets which fault;
    thread-safe.

    :param scripted: request number (1-based, counted per endpoint) -> fault kind.
    :param rate: chance, 0 to 1, that an unscripted request gets a random fault.
    :param seed: seed for the random faults, so a run can be repeated exactly.
    :param random_kinds: the kinds random faults are drawn from.
    :param kinds: the kinds this plan accepts.
    :param clock: the sandbox clock, which times spells scripted by time.

    A request scripted by number gets its fault first; otherwise the earliest spell (by count
    or by time) still running gives it, then the random faults.
    """

    def __init__(
        self,
        scripted: Mapping[int, str] | None = None,
        *,
        rate: float = 0.0,
        seed: int | None = None,
        random_kinds: Iterable[str] = RANDOM_FAULT_KINDS,
        kinds: Iterable[str] = FAULT_KINDS,
        clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self._kinds = tuple(kinds)
        self._clock = clock
        self._spells: list[_Spell] = []
        self._scripted = dict(scripted or {})
        self._random_kinds = tuple(random_kinds)
        for kind in (*self._scripted.values(), *self._random_kinds):
            check_fault_kind(kind, self._kinds)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate must be between 0 and 1, got {rate}")
        self._rate = rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._requests = 0
        self.injected: list[tuple[int, str]] = []
        """(request number, kind) for every fault injected so far."""

    def script(self, faults: Mapping[int, str]) -> None:
        """Add scripted faults: request number (1-based, counted from the start) -> kind."""
        for kind in faults.values():
            check_fault_kind(kind, self._kinds)
        with self._lock:
            self._scripted.update(faults)

    def script_spell(self, kind: str, *, count: int | None = None, seconds: float | None = None) -> None:
        """Give the next ``count`` requests, or every request for the next ``seconds`` by the
        sandbox clock, fault ``kind``."""
        check_fault_kind(kind, self._kinds)
        until = self._clock() + timedelta(seconds=seconds) if seconds is not None else None
        with self._lock:
            self._spells.append(_Spell(kind, left=count, until=until))

    def next_request(self) -> str | None:
        """Count one request and return the fault it gets, if any."""
        now = self._clock()
        with self._lock:
            self._requests += 1
            kind = self._scripted.get(self._requests)
            self._spells = [spell for spell in self._spells if spell.applies(now)]
            if kind is None and self._spells:
                spell = self._spells[0]
                kind = spell.kind
                if spell.left is not None:
                    spell.left -= 1
            if kind is None and self._rate and self._random.random() < self._rate:
                kind = self._random.choice(self._random_kinds)
            if kind is not None:
                self.injected.append((self._requests, kind))
            return kind


def check_fault_kind(kind: str, kinds: Iterable[str] = FAULT_KINDS) -> str:
    """Return ``kind`` if it is one of ``kinds``; otherwise say which kinds are known."""
    known = tuple(kinds)
    if kind not in known:
        raise ValueError(f"unknown fault kind {kind!r}; known kinds: {', '.join(known)}")
    return kind


def answer_instead(kind: str | None) -> Response | None:
    """The answer fault ``kind`` gives instead of the endpoint's own; None when the endpoint acts."""
    if kind in ("400", "500", "503"):
        return error_response(int(kind), f"sandbox fault: HTTP {kind}")
    if kind == "429":
        return error_response(429, "too many requests")
    if kind == "429-retry":
        return replace(error_response(429, "too many requests"), headers={"Retry-After": "1"})
    if kind == "html-502":
        page = (
            b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
        )
        return Response(502, page, content_type="text/html")
    if kind == "truncated":
        return Response(
            200, b'{"api_id": "' + new_api_id().encode() + b'", "objects": [{"content_type": "ima'
        )
    if kind == "reset":
        return Response(0, b"", drop=True)
    if kind == "hang":
        return Response(0, b"", hang=True)
    return None


def after_acting(kind: str | None, response: Response) -> Response:
    """The endpoint's own answer as fault ``kind`` lets the client see it: ``lost`` drops it."""
    return replace(response, drop=True) if kind == "lost" else response


def fails_first_object(kind: str | None) -> bool:
    """Whether an upload under fault ``kind`` stores every file but the first, which fails."""
    return kind == "failed-object"


def failed_object(file_name: str, content_type: str) -> dict[str, Any]:
    """The object of a file that failed inside a 200 answer (as Plivo's SDKs model it)."""
    return {
        "content_type": content_type,
        "file_name": file_name,
        "status": "failed",
        "status_code": 500,
        "error_code": 500,
        "error_message": "media processing failed (sandbox fault)",
    }
