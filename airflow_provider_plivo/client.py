"""PlivoClient: one authenticated session to Plivo's REST API, with classified errors and retries.

This is the HTTP layer and nothing else: no Airflow imports, so it can be used and tested with
nothing but a server speaking Plivo's wire format. :class:`~airflow_provider_plivo.hooks.plivo.PlivoHook`
builds one from a ``plivo`` connection (``hook.get_conn()``).

Every request has a timeout; every failure becomes a :class:`~airflow_provider_plivo.exceptions.PlivoError`
that says whether a retry may help (:class:`~airflow_provider_plivo.exceptions.PlivoTransientError`)
and carries Plivo's own message. ``requests`` and ``tenacity`` load on first use.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import time
from collections import Counter
from contextlib import nullcontext
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from airflow_provider_plivo import __version__
from airflow_provider_plivo.exceptions import (
    PlivoAPIError,
    PlivoAuthenticationError,
    PlivoConnectionError,
    PlivoMediaObjectError,
    PlivoResponseError,
    PlivoRetryableAPIError,
    PlivoTransientError,
)

if TYPE_CHECKING:
    import ssl
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping

    import httpx
    import requests
    from tenacity import RetryCallState

    from airflow_provider_plivo.connection import PlivoAccount
    from airflow_provider_plivo.utils.rate_limit import RequestLimiter, Slot

__all__ = ["USER_AGENT", "AsyncPlivoClient", "Log", "PlivoClient", "is_transient", "send_is_safe_to_retry"]

T = TypeVar("T")

USER_AGENT = f"airflow-provider-plivo/{__version__}"

RETRY_AFTER_MAX = 300.0
"""The longest ``Retry-After`` honoured, in seconds, so that the worst case of a call stays bounded."""

UPLOAD_BLOCK_SIZE = 256 * 1024
"""Bytes sent per socket write of a streamed upload. urllib3's default of 16 KiB made 2 MB
files upload slower than the SDK's in-memory bodies; 256 KiB costs 2.5 MiB at 10 in flight."""

_BODY_EXCERPT_CHARS = 200


class Log(Protocol):
    """What the client and the uploader log through: a :class:`logging.Logger`, or a hook's ``log``."""

    def info(self, msg: str, /, *args: Any) -> object: ...

    def warning(self, msg: str, /, *args: Any) -> object: ...


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: the same request may well succeed later."""
    return isinstance(exc, PlivoTransientError)


def send_is_safe_to_retry(exc: BaseException) -> bool:
    """True only where Plivo surely did not act on a request: no connection, or 429/503."""
    if isinstance(exc, PlivoConnectionError):
        return not exc.request_sent
    return isinstance(exc, PlivoRetryableAPIError) and exc.status_code in (429, 503)


class PlivoClient:
    """
    Calls to ``/v1/Account/{auth_id}/...`` as one account, over one pooled session.

    :param account: where and as whom to call Plivo (read from a ``plivo`` connection).
    :param retry_attempts: attempts per call, the first included.
    :param retry_wait_initial: seconds before the first retry; doubles each time, with jitter.
    :param retry_wait_max: the longest backoff between two attempts (a ``Retry-After`` may be longer).
    :param pool_size: connections kept open, one per thread that calls at once.
    :param limiter: how many requests every thread using this client keeps in flight and starts
        per period, told every answer; None for no limit.
    :param logger: where retries are reported.
    """

    def __init__(
        self,
        account: PlivoAccount,
        *,
        retry_attempts: int = 5,
        retry_wait_initial: float = 1.0,
        retry_wait_max: float = 30.0,
        pool_size: int = 10,
        limiter: RequestLimiter | None = None,
        logger: Log | None = None,
    ) -> None:
        self.account = account
        self.retry_attempts = retry_attempts
        self.retry_wait_initial = retry_wait_initial
        self.retry_wait_max = retry_wait_max
        self.pool_size = pool_size
        self.limiter = limiter
        self.log: Log = logger or logging.getLogger(__name__)

    def __repr__(self) -> str:
        return f"PlivoClient({self.account!r})"

    @cached_property
    def session(self) -> requests.Session:
        """One session for every call: authenticated, identified as this provider, and with a
        connection pool of ``pool_size`` so every thread reuses a connection."""
        import requests

        session = requests.Session()
        adapter = _plivo_adapter(pool_maxsize=self.pool_size)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.auth = (self.account.auth_id, self.account.auth_token)
        session.headers["User-Agent"] = USER_AGENT
        session.headers["Accept"] = "application/json"
        # requests would read the proxy and CA bundle variables again for every request: a scan
        # of the whole environment, a fifth of a small upload's CPU. Every request goes to one
        # origin, so they are read once, here.
        settings = session.merge_environment_settings(self.account.api_root, {}, None, None, None)
        session.proxies, session.verify = settings["proxies"], settings["verify"]
        session.trust_env = False
        return session

    def call(
        self,
        method: str,
        path: str,
        *,
        should_retry: Callable[[BaseException], bool] = is_transient,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """``method path`` (relative to the account, e.g. ``"Media/"``) with retries; Plivo's JSON
        answer. ``should_retry`` decides which failures are retried (default: every transient one)."""
        return self.retrying(
            lambda: self.request(method, path, **kwargs), what=f"{method} {path}", should_retry=should_retry
        )

    def iter_objects(
        self, path: str, params: Mapping[str, Any], *, page_size: int
    ) -> Iterator[dict[str, Any]]:
        """Every object of a paged list (``GET Media/``, ``GET Message/``...), following ``meta``.

        Stops at the last page (``meta.next`` empty), at an empty page, or once ``meta.total_count``
        objects came: never loops forever on a server that keeps offering a next page.
        """
        offset = 0
        while True:
            page = self.call("GET", path, params={**params, "limit": page_size, "offset": offset})
            objects = page.get("objects") or []
            meta = page.get("meta") or {}
            total = meta.get("total_count")
            yield from objects
            offset += len(objects)
            if not objects or not meta.get("next") or (isinstance(total, int) and offset >= total):
                return

    def request(
        self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """One attempt at a request (no retry); every failure becomes a classified :class:`PlivoError`.

        :param timeout: seconds this request may take; the connection's ``timeout`` by default.
        """
        import requests
        from urllib3.exceptions import NewConnectionError

        endpoint = f"{method} {path}"
        timeout = self.account.timeout if timeout is None else timeout
        base_url = self.account.base_url
        try:
            with self.limiter.slot() if self.limiter else nullcontext() as slot:
                response = self.session.request(
                    method, self.account.api_root + path, timeout=timeout, **kwargs
                )
                _tell(slot, response.status_code, response.headers)
        except requests.ConnectTimeout as err:
            raise PlivoConnectionError(
                f"{endpoint}: could not connect to {base_url} within {timeout:g} s", request_sent=False
            ) from err
        except requests.Timeout as err:
            raise PlivoConnectionError(
                f"{endpoint}: Plivo did not answer within {timeout:g} s (connection extra 'timeout')",
                request_sent=True,
            ) from err
        except requests.ConnectionError as err:
            reason = getattr(err.args[0], "reason", err.args[0]) if err.args else err
            raise PlivoConnectionError(
                f"{endpoint}: connection to {base_url} failed: {reason}",
                request_sent=not isinstance(reason, NewConnectionError),
            ) from err
        return parse_response(
            status=response.status_code,
            reason=response.reason,
            headers=response.headers,
            text=response.content.decode("utf-8", "replace"),  # JSON is UTF-8 (RFC 8259)
            endpoint=endpoint,
        )

    def retrying(
        self,
        fn: Callable[[], T],
        *,
        what: str,
        should_retry: Callable[[BaseException], bool] = is_transient,
        retries: list[str] | None = None,
    ) -> T:
        """Run ``fn`` until it succeeds, a permanent error comes, or the attempts run out.

        Each retry is logged with the attempt, the reason and the wait; ``retries`` (when given)
        collects a short label per retry, for the caller's summary.
        """
        from tenacity import Retrying

        return Retrying(**self._retry_settings(what, should_retry, retries))(fn)

    def _retry_settings(
        self, what: str, should_retry: Callable[[BaseException], bool], retries: list[str] | None
    ) -> dict[str, Any]:
        """tenacity's settings for one call, shared by the blocking and the async client."""
        from tenacity import retry_if_exception, stop_after_attempt

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is not None:
                return min(float(retry_after), RETRY_AFTER_MAX)
            backoff = self.retry_wait_initial * 2.0 ** (state.attempt_number - 1)
            return min(self.retry_wait_max, backoff + random.uniform(0, self.retry_wait_initial))

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if retries is not None:
                retries.append(retry_reason(exc))
            self.log.warning(
                "%s: attempt %d of %d failed (%s); retrying in %.1f s",
                what,
                state.attempt_number,
                self.retry_attempts,
                exc,
                state.upcoming_sleep,
            )

        return {
            "stop": stop_after_attempt(self.retry_attempts),
            "wait": wait,
            "retry": retry_if_exception(should_retry),
            "before_sleep": log_retry,
            "reraise": True,
        }


class AsyncPlivoClient(PlivoClient):
    """
    The same calls, errors, timeouts and retries as :class:`PlivoClient`, over ``httpx`` on the
    running event loop: for triggers, which must never block the triggerer's loop.

    ``httpx`` comes with Airflow's Task SDK, so it costs no new install, and it speaks the same
    request model as ``requests`` (aiohttp would bring a second HTTP stack into every worker).
    Close it with ``await client.aclose()`` (or ``async with``).
    """

    @cached_property
    def async_session(self) -> httpx.AsyncClient:
        import httpx

        return httpx.AsyncClient(
            auth=(self.account.auth_id, self.account.auth_token),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            limits=httpx.Limits(max_connections=self.pool_size),
            verify=_tls_context(),
        )

    async def acall(
        self,
        method: str,
        path: str,
        *,
        should_retry: Callable[[BaseException], bool] = is_transient,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """:meth:`PlivoClient.call`, awaited."""
        from tenacity import AsyncRetrying

        retrying = AsyncRetrying(**self._retry_settings(f"{method} {path}", should_retry, None))
        return await retrying(self.arequest, method, path, **kwargs)

    async def aiter_objects(
        self, path: str, params: Mapping[str, Any], *, page_size: int
    ) -> AsyncIterator[dict[str, Any]]:
        """:meth:`PlivoClient.iter_objects`, awaited page by page."""
        offset = 0
        while True:
            page = await self.acall("GET", path, params={**params, "limit": page_size, "offset": offset})
            objects = page.get("objects") or []
            meta = page.get("meta") or {}
            total = meta.get("total_count")
            for obj in objects:
                yield obj
            offset += len(objects)
            if not objects or not meta.get("next") or (isinstance(total, int) and offset >= total):
                return

    async def arequest(
        self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """:meth:`PlivoClient.request`, awaited: one attempt, every failure classified."""
        import httpx

        endpoint = f"{method} {path}"
        timeout = self.account.timeout if timeout is None else timeout
        base_url = self.account.base_url
        try:
            async with self.limiter.aslot() if self.limiter else nullcontext() as slot:
                response = await self.async_session.request(
                    method, self.account.api_root + path, timeout=timeout, **kwargs
                )
                _tell(slot, response.status_code, response.headers)
        except httpx.ConnectTimeout as err:
            raise PlivoConnectionError(
                f"{endpoint}: could not connect to {base_url} within {timeout:g} s", request_sent=False
            ) from err
        except httpx.PoolTimeout as err:
            raise PlivoConnectionError(
                f"{endpoint}: no free connection to {base_url} within {timeout:g} s", request_sent=False
            ) from err
        except httpx.TimeoutException as err:
            raise PlivoConnectionError(
                f"{endpoint}: Plivo did not answer within {timeout:g} s (connection extra 'timeout')",
                request_sent=True,
            ) from err
        except httpx.ConnectError as err:
            raise PlivoConnectionError(
                f"{endpoint}: connection to {base_url} failed: {err}", request_sent=False
            ) from err
        except httpx.TransportError as err:
            raise PlivoConnectionError(
                f"{endpoint}: connection to {base_url} failed: {err}", request_sent=True
            ) from err
        return parse_response(
            status=response.status_code,
            reason=response.reason_phrase,
            headers=response.headers,
            text=response.content.decode("utf-8", "replace"),  # JSON is UTF-8 (RFC 8259)
            endpoint=endpoint,
        )

    async def aclose(self) -> None:
        if "async_session" in self.__dict__:
            await self.async_session.aclose()

    async def __aenter__(self) -> AsyncPlivoClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every async client of the process: loading the CA store takes tens of
    milliseconds, which 200 triggers starting at once would otherwise spend on the event loop."""
    import httpx

    return httpx.create_ssl_context()


def _plivo_adapter(*, pool_maxsize: int) -> requests.adapters.HTTPAdapter:
    """An HTTPAdapter whose pool holds ``pool_maxsize`` connections and sends in large blocks."""
    from requests.adapters import HTTPAdapter

    class PlivoAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, blocksize=UPLOAD_BLOCK_SIZE, **kwargs)

    return PlivoAdapter(pool_connections=1, pool_maxsize=pool_maxsize)


def parse_response(
    *, status: int, reason: str | None, headers: Mapping[str, str], text: str, endpoint: str
) -> dict[str, Any]:
    """Plivo's JSON body, or the classified error its status and body describe."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if status >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        if error:
            message = error if isinstance(error, str) else json.dumps(error)
        elif text:
            message = f"{reason or 'error'}: {excerpt(text)}"
        else:
            message = reason or "no message"
        details: dict[str, Any] = {
            "status_code": status,
            "message": message,
            "endpoint": endpoint,
            "api_id": body.get("api_id") if isinstance(body, dict) else None,
        }
        if status in (401, 403):
            raise PlivoAuthenticationError(**details)
        if status == 429 or status >= 500:
            raise PlivoRetryableAPIError(**details, retry_after=_retry_after(headers.get("Retry-After")))
        raise PlivoAPIError(**details)
    if not isinstance(body, dict):
        raise PlivoResponseError(
            f"{endpoint}: Plivo answered HTTP {status} with a body that is not its JSON: {excerpt(text)!r}"
        )
    return body


def _tell(slot: Slot | None, status: int, headers: Mapping[str, str]) -> None:
    """Tell the limiter's ``slot`` (if any) how Plivo answered, so that it can adapt."""
    if slot is not None:
        retry_after = _retry_after(headers.get("Retry-After"))
        slot.answered(status, None if retry_after is None else min(retry_after, RETRY_AFTER_MAX))


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), if Plivo sent one."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def retry_reason(exc: BaseException | None) -> str:
    """A short label for a retry, used to summarise why retries happened."""
    if isinstance(exc, PlivoAPIError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, PlivoConnectionError):
        return "connection error"
    if isinstance(exc, PlivoMediaObjectError):
        return "failed files"
    if isinstance(exc, PlivoResponseError):
        return "malformed response"
    return type(exc).__name__


def count_reasons(reasons: list[str]) -> str:
    """``"2 x HTTP 503, 1 x connection error"``."""
    return ", ".join(f"{count} x {reason}" for reason, count in Counter(reasons).items())


def excerpt(text: str) -> str:
    """The start of a body, on one line, for an error message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _BODY_EXCERPT_CHARS else flat[:_BODY_EXCERPT_CHARS] + "..."
