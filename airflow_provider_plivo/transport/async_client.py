"""AsyncPlivoClient: the asyncio driver of the core, over ``httpx``, for the triggerer's loop.

A sibling of :class:`~airflow_provider_plivo.transport.client.PlivoClient`, not a subclass: the
same requests, answers, retries and plans, and nothing that blocks. ``httpx`` comes with
Airflow's Task SDK, so it costs no new install, and it speaks the same request model as
``requests`` (aiohttp would bring a second HTTP stack into every worker).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_plivo.exceptions import PlivoError
from airflow_provider_plivo.transport.core import (
    ACCEPT_ENCODING,
    ANSWER_READ_SIZE,
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
from airflow_provider_plivo.transport.limiter import wake

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

    from airflow_provider_plivo.transport.account import PlivoAccount
    from airflow_provider_plivo.transport.core import Plan

__all__ = ["AsyncPlivoClient", "open_async_client"]

T = TypeVar("T")


class AsyncPlivoClient(ClientBase):
    """
    :class:`~airflow_provider_plivo.transport.client.PlivoClient`'s calls, awaited on the running
    event loop. Close it with ``await client.aclose()`` (or ``async with``).
    """

    def __init__(self, account: PlivoAccount, **settings: Any) -> None:
        import httpx

        super().__init__(account, **settings)
        self.session = httpx.AsyncClient(
            auth=(account.auth_id, account.auth_token),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            limits=httpx.Limits(max_connections=self.pool_size),
            verify=_tls_context(),
        )
        self._backoffs: set[asyncio.Future[None]] = set()

    def stop(self) -> None:
        super().stop()
        for backoff in list(self._backoffs):
            backoff.get_loop().call_soon_threadsafe(wake, backoff)

    async def _backoff(self, seconds: float) -> None:
        # A backoff ends at once when the task stops: its retry would be refused anyway.
        if self.stopping.is_set():
            return
        loop = asyncio.get_running_loop()
        backoff = loop.create_future()
        timer = loop.call_later(seconds, wake, backoff)
        self._backoffs.add(backoff)
        try:
            await backoff
        finally:
            timer.cancel()
            self._backoffs.discard(backoff)

    async def call(
        self,
        method: str,
        path: str,
        *,
        should_retry: Callable[[BaseException], bool] = is_transient,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """:meth:`PlivoClient.call`, awaited."""
        return await self.execute(Request(method, path, should_retry=should_retry, **kwargs))

    async def execute(self, request: Request) -> dict[str, Any]:
        """:meth:`PlivoClient.execute`, awaited."""
        from tenacity import AsyncRetrying

        settings = self.retry.tenacity_settings(
            request.endpoint, self._unless_stopping(request.should_retry), self.log
        )
        return await AsyncRetrying(**settings, sleep=self._backoff)(self.request, request)

    async def run(self, plan: Plan[T]) -> T:
        """:meth:`PlivoClient.run`, awaited: each batch's requests as concurrent tasks."""
        steps = PlanSteps(plan)
        step = steps.start()
        while step is not None:
            step = steps.reply(
                await (self._batch(step) if isinstance(step, Concurrent) else self._outcome(step))
            )
        return steps.result  # type: ignore[no-any-return]

    async def request(self, request: Request) -> dict[str, Any]:
        """:meth:`PlivoClient.request`, awaited: one attempt, every failure classified."""
        import httpx

        self._check_running(request)
        try:
            # Read raw: the core decodes and bounds the body (MAX_ANSWER_BYTES).
            async with self.limiter.aslot(request) if self.limiter else nullcontext() as slot:
                self._check_running(request)  # it may have waited for its place while stopping
                async with self.session.stream(
                    **self._http_arguments(request), content=request.data
                ) as response:
                    tell(slot, response.status_code, response.headers)
                    reader = self._reader(request, response.headers)
                    async for data in response.aiter_raw(ANSWER_READ_SIZE):
                        reader.feed(data)
        except httpx.ConnectTimeout as err:
            raise self._failed(request, "connect-timeout", err) from err
        except httpx.PoolTimeout as err:
            raise self._failed(request, "pool-timeout", err) from err
        except httpx.TimeoutException as err:
            raise self._failed(request, "read-timeout", err) from err
        except httpx.ConnectError as err:
            raise self._failed(request, "connect", err, err) from err
        except httpx.TransportError as err:
            raise self._failed(request, "broken", err, err) from err
        return self._answer(
            request, response.status_code, response.reason_phrase, response.headers, reader.body()
        )

    async def _outcome(self, request: Request) -> Outcome:
        try:
            return await self.execute(request)
        except PlivoError as err:
            return err

    async def _batch(self, batch: Concurrent) -> list[Outcome]:
        """Every request of ``batch`` as a task; outcomes reported as they come. Interrupted
        (cancelled, or the caller's recording raised), it stops as the blocking driver does:
        nothing new starts, what is in flight finishes, and every outcome is reported before the
        interrupt goes on; a second cancellation cuts the wait short."""
        gathered = BatchOutcomes(batch)
        tasks = [asyncio.ensure_future(self._outcome(request)) for request in batch.requests]
        numbers = {task: n for n, task in enumerate(tasks)}
        try:
            pending = set(tasks)
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    gathered.tell(numbers[task], task.result())
        except BaseException:
            self.stop()
            gathered.stopping(self.log)
            if tasks:
                await asyncio.wait(tasks)
            gathered.tell_the_rest(tasks)
            raise
        finally:
            for task in tasks:
                task.cancel()
        return gathered.outcomes

    async def aclose(self) -> None:
        await self.session.aclose()

    async def __aenter__(self) -> AsyncPlivoClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def open_async_client(account: PlivoAccount, **settings: Any) -> AsyncPlivoClient:
    """An :class:`AsyncPlivoClient`, built without stalling the event loop.

    The first async client of a process loads the CA store, compiles httpx's URL parser and
    loads anyio's asyncio backend: each up to 100 ms that must not stall the triggerer's loop,
    so the first one is built in a thread (once; later ones cost well under 1 ms).
    """
    if _READY.is_set():
        return AsyncPlivoClient(account, **settings)
    client = await asyncio.to_thread(AsyncPlivoClient, account, **settings)
    await asyncio.to_thread(_warm_up, client)
    return client


_READY = threading.Event()
_WARM_UP = threading.Lock()


def _warm_up(client: AsyncPlivoClient) -> None:
    import anyio

    with _WARM_UP:
        if not _READY.is_set():
            client.session.build_request("GET", client.account.api_root)
            anyio.run(anyio.sleep, 0)
            _READY.set()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every async client of the process: loading the CA store takes tens of
    milliseconds, which 200 triggers starting at once would otherwise spend on the event loop."""
    import httpx

    return httpx.create_ssl_context()
