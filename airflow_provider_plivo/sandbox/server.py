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
``Content-Length`` headers get a 400, and a client that stops sending is cut off after
``read_timeout`` seconds.

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
``+61491570159``   ``sent``         none: outside +1, a carrier that sends no receipt
=================  ===============  ==================================================
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.limits import MAX_MEDIA_FILE_SIZE
from airflow_provider_plivo.sandbox.account_limits import AccountLimits
from airflow_provider_plivo.sandbox.api import SandboxAPI, SandboxRequest
from airflow_provider_plivo.sandbox.credentials import SANDBOX_AUTH_ID, SANDBOX_AUTH_TOKEN
from airflow_provider_plivo.sandbox.delivery import TEST_NUMBER_FATES
from airflow_provider_plivo.sandbox.faults import MESSAGE_FAULT_KINDS, STATUS_FAULT_KINDS, FaultPlan
from airflow_provider_plivo.sandbox.store import SandboxStore, StoredMedia, StoredMessage
from airflow_provider_plivo.sandbox.transport import HTTPTransport

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime, timedelta

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
    ) -> None:
        self.auth_id = auth_id
        self.auth_token = auth_token
        self.max_file_size = max_file_size
        self.latency = latency_ms / 1000
        self.hang_seconds = hang_seconds
        self.delivery_seconds = delivery_seconds
        self.read_timeout = read_timeout
        self._stopping = threading.Event()
        self._store = SandboxStore()
        self._fault_plans = {
            "media": FaultPlan(faults, rate=fault_rate, seed=fault_seed),
            "message": FaultPlan(message_faults, kinds=MESSAGE_FAULT_KINDS),
            "status": FaultPlan(None, kinds=STATUS_FAULT_KINDS, random_kinds=()),
        }
        self.api = SandboxAPI(
            self._store,
            auth_id=auth_id,
            auth_token=auth_token,
            base_url=lambda: self.url,
            fault_plans=self._fault_plans,
            limits=AccountLimits(rate_limit, max_in_flight),
            max_file_size=max_file_size,
            delivery_seconds=delivery_seconds,
            latency=self.latency,
            wait=self.wait,
        )
        """The API layer: :meth:`SandboxAPI.handle` answers a request without a socket."""
        self._transport = HTTPTransport(
            self.api,
            host=host,
            port=port,
            read_timeout=read_timeout,
            hang_seconds=hang_seconds,
            wait=self.wait,
        )

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base URL to put in the connection's host, e.g. ``http://127.0.0.1:40123``."""
        return self._transport.url

    def connection_json(self, *, password: str | None = None, **extra: Any) -> str:
        """An ``AIRFLOW_CONN_<ID>`` value (JSON form) for a ``plivo`` connection to this sandbox.

        :param password: a token other than the sandbox's, to see a wrong one refused.
        :param extra: the connection's extras, e.g. ``timeout=2``.
        """
        token = self.auth_token if password is None else password
        conn: dict[str, Any] = {"conn_type": "plivo", "login": self.auth_id, "password": token}
        conn["host"] = self.url
        if extra:
            conn["extra"] = extra
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

    def script_faults(self, faults: Mapping[int, str], *, endpoint: str = "media") -> None:
        """Script faults for ``media`` (upload), ``message`` (send) or ``status`` (reads of message
        status) requests: number -> kind.

        Numbers are 1-based and counted from the sandbox's start, per endpoint.
        """
        self._fault_plans[endpoint].script(faults)

    def now(self) -> datetime:
        """The sandbox clock: real UTC time plus however far :meth:`advance_clock` moved it."""
        return self._store.now()

    def advance_clock(self, delta: timedelta) -> None:
        """Move the sandbox clock forward, e.g. past the 6-hour media expiry."""
        self._store.advance_clock(delta)

    def count_requests(self, method: str, path_suffix: str) -> int:
        """How many ``method`` requests to a path ending in ``path_suffix`` were answered."""
        return sum(1 for r in self.requests if r.method == method and r.path.endswith(path_suffix))
