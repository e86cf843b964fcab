"""PlivoClient: the blocking driver of the core, over one pooled ``requests`` session.

It moves bytes and runs plans; what a request is, how its answer reads and when it is retried
are :mod:`~airflow_provider_plivo.transport.core`'s. No Airflow imports: it can be used and
tested with nothing but a server speaking Plivo's wire format.
:class:`~airflow_provider_plivo.hooks.plivo.PlivoHook` builds one from a ``plivo`` connection
(``hook.get_conn()``).
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_plivo.exceptions import PlivoError
from airflow_provider_plivo.transport.core import (
    ACCEPT_ENCODING,
    ANSWER_READ_SIZE,
    UPLOAD_BLOCK_SIZE,
    USER_AGENT,
    BatchOutcomes,
    ClientBase,
    Concurrent,
    Outcome,
    PlanSteps,
    Request,
    is_transient,
    tell,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import requests

    from airflow_provider_plivo.transport.account import PlivoAccount
    from airflow_provider_plivo.transport.core import Plan

__all__ = ["PlivoClient"]

T = TypeVar("T")


class PlivoClient(ClientBase):
    """
    Calls to ``/v1/Account/{auth_id}/...`` as one account, over one pooled session; the
    settings are :class:`~airflow_provider_plivo.transport.core.ClientBase`'s.
    """

    def __init__(self, account: PlivoAccount, **settings: Any) -> None:
        super().__init__(account, **settings)
        # Built now, on the caller's thread: Airflow serves a task's connections through a
        # channel its worker threads cannot use, and a plan's batches run on worker threads.
        self.session = _session(account, self.pool_size)

    def call(
        self,
        method: str,
        path: str,
        *,
        should_retry: Callable[[BaseException], bool] = is_transient,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """``method path`` (relative to the account, e.g. ``"Media/"``) with retries; Plivo's JSON
        answer. ``kwargs`` are :class:`~airflow_provider_plivo.transport.core.Request` fields
        (``params``, ``json``, ``timeout``...)."""
        return self.execute(Request(method, path, should_retry=should_retry, **kwargs))

    def execute(self, request: Request, *, retries: list[str] | None = None) -> dict[str, Any]:
        """``request`` with its retries; Plivo's JSON answer or the last classified error."""
        return self.retrying(
            lambda: self.request(request),
            what=request.endpoint,
            should_retry=request.should_retry,
            retries=retries,
        )

    def retrying(
        self,
        fn: Callable[[], T],
        *,
        what: str,
        should_retry: Callable[[BaseException], bool] = is_transient,
        retries: list[str] | None = None,
    ) -> T:
        """Run ``fn`` until it succeeds, a permanent error comes, or the attempts run out."""
        from tenacity import Retrying

        settings = self.retry.tenacity_settings(what, self._unless_stopping(should_retry), self.log, retries)
        # A backoff ends at once when the task stops: its retry would be refused anyway.
        return Retrying(**settings, sleep=self._backoff)(fn)

    def _backoff(self, seconds: float) -> None:
        self.stopping.wait(seconds)

    def run(self, plan: Plan[T]) -> T:
        """Run a plan of the core: each request retried, each batch under way together."""
        steps = PlanSteps(plan)
        step = steps.start()
        while step is not None:
            step = steps.reply(self._batch(step) if isinstance(step, Concurrent) else self._outcome(step))
        return steps.result  # type: ignore[no-any-return]

    def request(self, request: Request) -> dict[str, Any]:
        """One attempt (no retry); every failure becomes a classified :class:`PlivoError`."""
        import requests
        from urllib3.exceptions import HTTPError, NewConnectionError, ReadTimeoutError

        self._check_running(request)
        try:
            with self.limiter.slot(request) if self.limiter else nullcontext() as slot:
                self._check_running(request)  # it may have waited for its place while stopping
                # Streamed, and read raw: the core decodes and bounds the body (MAX_ANSWER_BYTES).
                with self.session.request(
                    **self._http_arguments(request), data=request.data, stream=True
                ) as response:
                    tell(slot, response.status_code, response.headers)
                    reader = self._reader(request, response.headers)
                    for data in response.raw.stream(ANSWER_READ_SIZE, decode_content=False):
                        reader.feed(data)
        except requests.ConnectTimeout as err:
            raise self._failed(request, "connect-timeout", err) from err
        except (requests.Timeout, ReadTimeoutError) as err:
            raise self._failed(request, "read-timeout", err) from err
        except requests.ConnectionError as err:
            reason = getattr(err.args[0], "reason", err.args[0]) if err.args else err
            raise self._failed(
                request, "connect" if isinstance(reason, NewConnectionError) else "broken", err, reason
            ) from err
        except HTTPError as err:  # the body was cut (a reset, an incomplete chunk)
            raise self._failed(request, "broken", err, err) from err
        return self._answer(request, response.status_code, response.reason, response.headers, reader.body())

    def _outcome(self, request: Request) -> Outcome:
        try:
            return self.execute(request)
        except PlivoError as err:
            return err

    def _batch(self, batch: Concurrent) -> list[Outcome]:
        """Every request of ``batch`` on worker threads; outcomes reported on this thread as they
        come. An interrupt here (Ctrl-C, Airflow's timeout) cancels the requests not yet started."""
        from concurrent.futures import ThreadPoolExecutor, as_completed

        gathered = BatchOutcomes(batch)
        if not batch.requests:
            return gathered.outcomes
        pool = ThreadPoolExecutor(
            max_workers=min(self.pool_size, len(batch.requests)), thread_name_prefix="plivo"
        )
        futures = [pool.submit(self._outcome, request) for request in batch.requests]
        numbers = {future: n for n, future in enumerate(futures)}
        try:
            for future in as_completed(futures):
                gathered.tell(numbers[future], future.result())
        except BaseException:
            # Interrupted: nothing new starts, what is in flight finishes (within its timeout,
            # without retries), and every outcome is still told before the interrupt goes on.
            self.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            gathered.stopping(self.log)
            gathered.tell_the_rest(futures)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return gathered.outcomes


def _session(account: PlivoAccount, pool_size: int) -> requests.Session:
    """One session for every call: authenticated, identified as this provider, and with a
    connection pool of ``pool_size`` so every thread reuses a connection."""
    import requests
    from requests.adapters import HTTPAdapter

    class PlivoAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, blocksize=UPLOAD_BLOCK_SIZE, **kwargs)

    session = requests.Session()
    adapter = PlivoAdapter(pool_connections=1, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.auth = (account.auth_id, account.auth_token)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    session.headers["Accept-Encoding"] = ACCEPT_ENCODING
    # requests would read the proxy and CA bundle variables again for every request: a scan of
    # the whole environment, a fifth of a small upload's CPU. Every request goes to one origin,
    # so they are read once, here.
    settings = session.merge_environment_settings(account.api_root, {}, None, None, None)
    session.proxies, session.verify = settings["proxies"], settings["verify"]
    session.trust_env = False
    return session
