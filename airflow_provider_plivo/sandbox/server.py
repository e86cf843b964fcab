"""A local HTTP server that speaks Plivo's wire format, for developing and testing DAGs offline.

It checks Basic auth like Plivo, keeps uploaded media in memory (serving each file's bytes at
its ``media_url``), accepts messages and moves them along on its own clock, which tests can
advance. :class:`PlivoSandbox` puts three layers together: the store
(:mod:`~airflow_provider_plivo.sandbox.store`: media, messages, the clock), the API layer
(:mod:`~airflow_provider_plivo.sandbox.api`: auth, limits, routes, faults, the request record;
no socket) and the transport (:mod:`~airflow_provider_plivo.sandbox.transport`: HTTP, resets,
hangs).

It is never kinder than Plivo: +1 numbers get no delivery report and stay ``sent``; duplicate
destinations are sent once, malformed ones come back in ``invalid_number``, more than 1,000
are refused; unused media expires after 6 hours; wrong-typed fields, malformed bodies and bad
``Content-Length`` headers get a 400, a client that stops sending is cut off after
``read_timeout`` seconds, and one that sends too slowly once its request has taken
``request_deadline`` seconds (30 by default).

And by default it is as unkind as production Plivo (:mod:`~airflow_provider_plivo.sandbox.realism`
says where Plivo's documents disagree and which reading it takes):

=============================  ===================================================================
option (default)               what a client meets
=============================  ===================================================================
``message_list_rate_limit``    ``GET Message/`` (the list) beyond 20 per minute answers 429; it
(``(20, 60.0)``)               counts against ``rate_limit`` too
``mps``                        messages leave ``queued`` in queue order, per type, at 5 SMS and
(``{"sms": 5, "mms": 0.25}``)  0.25 MMS a second; one still queued after its ``message_expiry``
                               (10,800 s) ends ``failed`` with error 420, not charged
``time_scale`` (1)             the messages' lifecycle (dispatch, expiry, delivery) runs that many
                               times faster: with 1000 a 3-hour expiry lasts 10.8 s
``honour_log`` (True)          ``log=false`` or ``content_only`` stores ``to_number`` masked
                               (``141XXXXX528`` in records, which drop the '+')
``utc_offset`` (+05:30)        message times in that offset, trailing fraction zeros dropped
``recorded_shapes`` (True)     a message list's ``meta`` without ``total_count``;
                               ``error_message`` ``""`` where there is none; every second
                               ``GET Media/{id}`` with ``url`` instead of ``media_url``
``max_message_size`` (5 MB)    text plus attachments at or over it fail the message, error 120
``upload_types``               uploads only of JPG, PNG, GIF, MP4, PDF and text; one other file
                               refuses the whole request (400)
``clock_offset`` (0)           the sandbox clock (its ``Date`` header, every time it writes) runs
                               that far ahead of the host's, or behind when negative
=============================  ===================================================================

``kinder=True`` turns every unkindness off at once (no list limit, every message at once, UTC
times with six digits, ``log`` ignored, today's shapes, no size or type check); an option given
explicitly still wins.

Test numbers (see :mod:`~airflow_provider_plivo.sandbox.delivery`):

=================  ===============  ==================================================
number             final state      ``error_code``
=================  ===============  ==================================================
any other +1       ``sent``         none: no delivery report in the US and Canada
any other          ``delivered``    ``000``
``+15005550001``   ``undelivered``  ``80``: destination temporarily unavailable
``+15005550002``   ``failed``       ``50``: invalid destination number
``+15005550003``   ``rejected``     ``100``: prohibited by carrier
``+15005550005``   ``delivered``    ``000``: a +1 carrier that does report delivery
``+15005550006``   ``read``         ``000``: delivered, then read (after ``sent``)
``+15005550007``   ``deleted``      none: Plivo's PHP SDK documents the state (after ``sent``)
``+61491570159``   ``sent``         none: outside +1, a carrier that sends no receipt
=================  ===============  ==================================================
"""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from airflow_provider_plivo.limits import (
    MAX_MEDIA_FILE_SIZE,
    MAX_MESSAGE_SIZE,
    MESSAGE_LIST_RATE_LIMIT,
    MESSAGE_LIST_RATE_LIMIT_PERIOD,
    SIGNUP_MPS,
)
from airflow_provider_plivo.sandbox.account_limits import AccountLimits
from airflow_provider_plivo.sandbox.api import SandboxAPI, SandboxRequest
from airflow_provider_plivo.sandbox.credentials import SANDBOX_AUTH_ID, SANDBOX_AUTH_TOKEN
from airflow_provider_plivo.sandbox.delivery import TEST_NUMBER_FATES
from airflow_provider_plivo.sandbox.faults import (
    MESSAGE_FAULT_KINDS,
    STATUS_FAULT_KINDS,
    FaultPlan,
    ScriptedFault,
)
from airflow_provider_plivo.sandbox.realism import (
    ACCOUNT_UTC_OFFSET,
    UNSET,
    UPLOAD_TYPES,
    Realism,
    Unset,
    mps_by_type,
    resolve,
)
from airflow_provider_plivo.sandbox.store import SandboxStore, StoredMedia, StoredMessage
from airflow_provider_plivo.sandbox.transport import HTTPTransport

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from datetime import datetime

__all__ = [
    "SANDBOX_AUTH_ID",
    "SANDBOX_AUTH_TOKEN",
    "TEST_NUMBER_FATES",
    "PlivoSandbox",
    "SandboxRequest",
    "StoredMedia",
    "StoredMessage",
]


class PlivoSandbox:
    """
    A Plivo-compatible API server on loopback; use it as a context manager.

    >>> with PlivoSandbox() as sandbox:
    ...     os.environ["AIRFLOW_CONN_PLIVO_DEFAULT"] = sandbox.connection_json()

    :param auth_id: the Auth ID requests must authenticate with.
    :param auth_token: the Auth Token requests must authenticate with.
    :param host: the address to listen on (loopback by default).
    :param port: the port; 0 picks a free one (see :attr:`url`).
    :param max_file_size: the per-file upload limit enforced, in bytes.
    :param latency_ms: delay before every answer, to model a real round trip.
    :param faults: scripted faults: upload request number (1-based) -> kind (see
        :mod:`airflow_provider_plivo.sandbox.faults`); more can be added with :meth:`script_faults`.
    :param fault_rate: chance, 0 to 1, of a random fault on any other upload request.
    :param fault_seed: seed for the random faults, so a run can be repeated exactly.
    :param message_faults: scripted faults for send requests: number (1-based) -> kind.
    :param hang_seconds: how long a ``hang`` fault keeps the client waiting.
    :param delivery_seconds: sandbox-clock seconds from queued to the final state (sent halfway).
    :param rate_limit: ``(requests, seconds)``: answer 429 beyond that many API requests per
        window, as Plivo does beyond 300 per 5 s; None (the default) for no limit.
    :param max_in_flight: answer 429 beyond that many API requests being answered at once, as
        Plivo does beyond 100; None (the default) for no limit.
    :param read_timeout: seconds a connection may stay silent while the sandbox waits for a
        request or the rest of its body; then it is cut off (408 mid-body).
    :param request_deadline: seconds a whole request (its line, headers and body) may take to
        arrive, however steadily it trickles in; then it is cut off (408 mid-body).
    :param message_list_rate_limit: ``(requests, seconds)`` for ``GET Message/`` (the list) on its
        own: 429 beyond it, as Plivo answers beyond 20 per minute (the default); None for no limit.
    :param mps: the account's outbound messages per second, per type (``{"sms": 5.0, "mms": 0.25}``,
        Plivo's signup speeds, by default; a type not named gets its signup speed) or one number
        for every type; None sends every message at once.
    :param time_scale: the messages' lifecycle (dispatch, ``message_expiry``, ``delivery_seconds``)
        runs this many times faster than the sandbox clock.
    :param honour_log: mask ``to_number`` for sends with ``log`` false or ``content_only`` (and keep
        no text for false or ``number_only``), as Plivo does; the default.
    :param utc_offset: the account's offset, for message times (``+05:30``, as recorded, by default);
        None writes UTC with six fraction digits.
    :param recorded_shapes: answer in the shapes recorded from Plivo (see the table above).
    :param max_message_size: bytes of text plus attachments that fail a message with error 120
        (5,000,000 by default); None for no check.
    :param upload_types: content types an upload may carry (JPG, PNG, GIF, MP4, PDF and text by
        default); None accepts any.
    :param clock_offset: how far the sandbox clock runs ahead of the host's (behind when negative).
    :param kinder: turn every unkindness above off at once; an option given explicitly still wins.
    """

    def __init__(
        self,
        *,
        auth_id: str = SANDBOX_AUTH_ID,
        auth_token: str = SANDBOX_AUTH_TOKEN,
        host: str = "127.0.0.1",
        port: int = 0,
        max_file_size: int = MAX_MEDIA_FILE_SIZE,
        latency_ms: float = 0.0,
        faults: Mapping[int, str] | None = None,
        fault_rate: float = 0.0,
        fault_seed: int | None = None,
        message_faults: Mapping[int, str] | None = None,
        hang_seconds: float = 30.0,
        delivery_seconds: float = 1.0,
        rate_limit: tuple[int, float] | None = None,
        max_in_flight: int | None = None,
        read_timeout: float = 10.0,
        request_deadline: float = 30.0,
        message_list_rate_limit: tuple[int, float] | Literal[Unset.UNSET] | None = UNSET,
        mps: float | Mapping[str, float] | Literal[Unset.UNSET] | None = UNSET,
        time_scale: float = 1.0,
        honour_log: bool | Literal[Unset.UNSET] = UNSET,
        utc_offset: timedelta | Literal[Unset.UNSET] | None = UNSET,
        recorded_shapes: bool | Literal[Unset.UNSET] = UNSET,
        max_message_size: int | Literal[Unset.UNSET] | None = UNSET,
        upload_types: Collection[str] | Literal[Unset.UNSET] | None = UNSET,
        clock_offset: timedelta = timedelta(),
        kinder: bool = False,
    ) -> None:
        self.auth_id = auth_id
        self.auth_token = auth_token
        self.max_file_size = max_file_size
        self.hang_seconds = hang_seconds
        self.delivery_seconds = delivery_seconds
        self.read_timeout = read_timeout
        self.request_deadline = request_deadline
        self._stopping = threading.Event()
        self._store = SandboxStore(clock_offset=clock_offset)
        types = resolve(upload_types, plivo=UPLOAD_TYPES, kinder_value=None, kinder=kinder)
        self.realism = Realism(
            mps=mps_by_type(resolve(mps, plivo=SIGNUP_MPS, kinder_value=None, kinder=kinder)),
            time_scale=time_scale,
            utc_offset=resolve(utc_offset, plivo=ACCOUNT_UTC_OFFSET, kinder_value=None, kinder=kinder),
            honour_log=resolve(honour_log, plivo=True, kinder_value=False, kinder=kinder),
            recorded_shapes=resolve(recorded_shapes, plivo=True, kinder_value=False, kinder=kinder),
            max_message_size=resolve(
                max_message_size, plivo=MAX_MESSAGE_SIZE, kinder_value=None, kinder=kinder
            ),
            upload_types=None if types is None else frozenset(kind.lower() for kind in types),
        )
        """Which of production Plivo's habits this sandbox shows (see the table above)."""
        list_limit = resolve(
            message_list_rate_limit,
            plivo=(MESSAGE_LIST_RATE_LIMIT, MESSAGE_LIST_RATE_LIMIT_PERIOD),
            kinder_value=None,
            kinder=kinder,
        )
        self._fault_plans = {
            "media": FaultPlan(faults, rate=fault_rate, seed=fault_seed, clock=self.now),
            "message": FaultPlan(message_faults, kinds=MESSAGE_FAULT_KINDS, clock=self.now),
            "status": FaultPlan(None, kinds=STATUS_FAULT_KINDS, random_kinds=(), clock=self.now),
        }
        self.api = SandboxAPI(
            self._store,
            auth_id=auth_id,
            auth_token=auth_token,
            base_url=lambda: self.url,
            fault_plans=self._fault_plans,
            limits=AccountLimits(rate_limit, max_in_flight, list_limit),
            max_file_size=max_file_size,
            delivery_seconds=delivery_seconds,
            realism=self.realism,
            latency_ms=latency_ms,
            wait=self.wait,
        )
        """The API layer: :meth:`SandboxAPI.handle` answers a request without a socket."""
        self._transport = HTTPTransport(
            self.api,
            host=host,
            port=port,
            read_timeout=read_timeout,
            request_deadline=request_deadline,
            hang_seconds=hang_seconds,
            wait=self.wait,
            clock=self.now,
        )

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to put in the connection's host, e.g. ``http://127.0.0.1:40123``."""
        return self._transport.url

    def connection_json(self, *, password: str | None = None, **extra: Any) -> str:
        """An ``AIRFLOW_CONN_<ID>`` value (JSON form) for a ``plivo`` connection to this sandbox.

        The extras say how fast the sandbox sends, so the hook knows: ``mps`` (per type, unless
        the sandbox sends everything at once) and ``time_scale`` (unless 1).

        :param password: a token other than the sandbox's, to see a wrong one refused.
        :param extra: the connection's extras, e.g. ``timeout=2``; they win over the sandbox's own.
        """
        token = self.auth_token if password is None else password
        conn: dict[str, Any] = {"conn_type": "plivo", "login": self.auth_id, "password": token}
        conn["host"] = self.url
        own: dict[str, Any] = {}
        if self.realism.mps is not None:
            own["mps"] = dict(self.realism.mps)
        if self.realism.time_scale != 1:
            own["time_scale"] = self.realism.time_scale
        if extras := {**own, **extra}:
            conn["extra"] = extras
        return json.dumps(conn)

    def start(self) -> PlivoSandbox:
        """Serve in a background thread; return self."""
        self._transport.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` (used by the ``plivo-sandbox`` command)."""
        self._transport.serve_forever()

    def stop(self) -> None:
        """Stop serving and release the port; any wait (latency, a hang) ends at once."""
        self._stopping.set()
        self._transport.stop()

    def wait(self, seconds: float) -> None:
        """Sleep up to ``seconds``, waking early when the sandbox stops, so no wait outlives it."""
        self._stopping.wait(seconds)

    def __enter__(self) -> PlivoSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what tests look at -------------------------------------------------------------------

    @property
    def media(self) -> dict[str, StoredMedia]:
        """Every stored media file by media ID (a snapshot)."""
        return self._store.all_media()

    @property
    def requests(self) -> list[SandboxRequest]:
        """Every request answered so far, in order (a snapshot)."""
        return self.api.requests

    @property
    def messages(self) -> dict[str, StoredMessage]:
        """Every message sent so far, by message UUID (a snapshot)."""
        return self._store.all_messages()

    @property
    def stats(self) -> dict[str, Any]:
        """What ``GET /_sandbox/stats`` answers: request, status, media and message counts."""
        return self.api.stats()

    @property
    def peak_in_flight(self) -> int:
        """The most requests the sandbox was answering at once."""
        return self.api.peak_in_flight

    @property
    def faults_injected(self) -> list[tuple[int, str]]:
        """(upload request number, kind) for every fault injected into uploads so far."""
        return list(self._fault_plans["media"].injected)

    def script_faults(
        self,
        faults: Mapping[int, str] | str,
        *,
        endpoint: str = "media",
        count: int | None = None,
        seconds: float | None = None,
    ) -> None:
        """Script faults for ``media`` (upload), ``message`` (send) or ``status`` (reads of message
        status) requests: number -> kind (``{3: "503"}``; numbers are 1-based and counted from
        the sandbox's start, per endpoint), or one kind for the next ``count`` requests or for
        every request during the next ``seconds`` by the sandbox clock
        (``script_faults("503", endpoint="status", seconds=20)``).
        """
        if isinstance(faults, str):
            self.api.script_fault(ScriptedFault(endpoint=endpoint, kind=faults, count=count, seconds=seconds))
        elif count is not None or seconds is not None:
            raise ValueError("count and seconds go with one fault kind, not with faults by request number")
        else:
            self._fault_plans[endpoint].script(faults)

    def reset_stats(self) -> None:
        """Count :attr:`stats` afresh from now, as ``POST /_sandbox/stats/reset`` does."""
        self.api.reset_stats()

    def set_latency(self, latency_ms: float) -> None:
        """Delay every answer from now by ``latency_ms``, as ``POST /_sandbox/latency`` does: e.g.
        long while a test kills a task with its requests in flight, short for the retry."""
        self.api.set_latency(latency_ms)

    @property
    def latency(self) -> float:
        """Seconds every answer waits (``latency_ms``, :meth:`set_latency`)."""
        return self.api.latency

    def now(self) -> datetime:
        """The sandbox clock: real UTC time plus ``clock_offset`` and however far :meth:`advance_clock`
        moved it. Every answer's ``Date`` header reads it, as Plivo's read Plivo's clock."""
        return self._store.now()

    def advance_clock(self, delta: timedelta) -> None:
        """Move the sandbox clock by ``delta``: forward (past the 6-hour media expiry, a message's
        expiry) or back (``-timedelta(minutes=3)``: Plivo's clock behind the worker's)."""
        self._store.advance_clock(delta)

    def count_requests(self, method: str, path_suffix: str) -> int:
        """How many ``method`` requests to a path ending in ``path_suffix`` were answered."""
        return sum(1 for r in self.requests if r.method == method and r.path.endswith(path_suffix))
