"""PlivoHook: the ``plivo`` connection type, and Plivo's media and message APIs for tasks.

The hook reads the connection and offers the calls a task needs; the work is done below it:
:mod:`airflow_provider_plivo.client` (HTTP, retries, errors) and
:mod:`airflow_provider_plivo.uploads` (batches of media). DAG files import this module on every
parse, so only ``airflow.sdk`` is imported at module level.
"""

from __future__ import annotations

import re
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_plivo.connection import DEFAULT_TIMEOUT, PlivoAccount
from airflow_provider_plivo.exceptions import (
    PlivoError,
)
from airflow_provider_plivo.limits import (
    ACCOUNT_MAX_IN_FLIGHT,
    ACCOUNT_RATE_LIMIT,
    ACCOUNT_RATE_LIMIT_PERIOD,
    MAX_FILES_PER_UPLOAD,
    MAX_MEDIA_FILE_SIZE,
    MEDIA_PAGE_SIZE,
    MESSAGE_PAGE_SIZE,
)
from airflow_provider_plivo.utils.rate_limit import RequestLimiter

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Mapping, Sequence

    import requests
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_plivo.client import AsyncPlivoClient, PlivoClient
    from airflow_provider_plivo.records import MediaRecord
    from airflow_provider_plivo.sends import MessageSender, SendLedger, SentMessages
    from airflow_provider_plivo.uploads import MediaUploader

__all__ = ["DEFAULT_MAX_CONCURRENCY", "PlivoHook"]

DEFAULT_MAX_CONCURRENCY = ACCOUNT_MAX_IN_FLIGHT
"""The most requests one hook keeps in flight: Plivo's limit per account (it starts at 32)."""

TEST_CONNECTION_TIMEOUT = 10.0
"""The longest the connection test waits, so the UI's Test button answers promptly."""


class PlivoHook(BaseHook):
    """
    Talk to Plivo with the credentials of a ``plivo`` connection.

    The connection's login is the Auth ID, its password the Auth Token, its host an optional
    API base URL (``https://api.plivo.com`` when empty; plain http only for loopback hosts such
    as the bundled sandbox), and its extra ``timeout`` the seconds any one request may take.

    Transient failures (connection errors, timeouts, HTTP 429 and 5xx, malformed answers) are
    retried with exponential backoff and jitter, honouring ``Retry-After``; other 4xx fail at once.

    :param plivo_conn_id: the ``plivo`` connection to use.
    :param chunk_size: files per upload request, 1 to 10 (Plivo's maximum).
    :param max_file_size: largest file accepted for upload, in bytes.
    :param retry_attempts: attempts per request, the first included.
    :param retry_wait_initial: seconds before the first retry; doubles each time, with jitter.
    :param retry_wait_max: the longest backoff between two attempts (a ``Retry-After`` may be longer).
    :param max_concurrency: the most requests in flight at once, across all the hook's threads
        (Plivo allows 100 simultaneous requests per account).
    :param rate_limit: the most requests this hook starts per ``rate_limit_period`` seconds,
        across all its threads (Plivo's account limit is 300 per 5 s); None for no limit.
    :param rate_limit_period: the window of ``rate_limit``, in seconds.
    :param adaptive: start at 32 requests in flight and grow toward ``max_concurrency`` while
        Plivo answers cleanly; on a 429 or 503 cut back and keep to the part of the account this
        hook had, as other tasks share it (see :mod:`airflow_provider_plivo.utils.rate_limit`).
        False keeps ``max_concurrency`` and ``rate_limit`` as fixed limits.
    """

    conn_name_attr = "plivo_conn_id"
    default_conn_name = "plivo_default"
    conn_type = "plivo"
    hook_name = "Plivo"

    def __init__(
        self,
        plivo_conn_id: str = default_conn_name,
        *,
        chunk_size: int = MAX_FILES_PER_UPLOAD,
        max_file_size: int = MAX_MEDIA_FILE_SIZE,
        retry_attempts: int = 5,
        retry_wait_initial: float = 1.0,
        retry_wait_max: float = 30.0,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        rate_limit: int | None = ACCOUNT_RATE_LIMIT,
        rate_limit_period: float = ACCOUNT_RATE_LIMIT_PERIOD,
        adaptive: bool = True,
    ) -> None:
        super().__init__()
        self.plivo_conn_id = plivo_conn_id
        self.chunk_size = _whole_number("chunk_size", chunk_size, 1, MAX_FILES_PER_UPLOAD)
        self.max_file_size = _whole_number("max_file_size", max_file_size, 1)
        self.retry_attempts = _whole_number("retry_attempts", retry_attempts, 1)
        self.retry_wait_initial = _seconds("retry_wait_initial", retry_wait_initial)
        self.retry_wait_max = _seconds("retry_wait_max", retry_wait_max)
        self.max_concurrency = _whole_number("max_concurrency", max_concurrency, 1)
        if not isinstance(adaptive, bool):
            raise ValueError(f"adaptive must be True or False, got {adaptive!r}")
        self.limiter = RequestLimiter(
            max_concurrency=self.max_concurrency,
            rate_limit=None if rate_limit is None else _whole_number("rate_limit", rate_limit, 1),
            rate_limit_period=_seconds("rate_limit_period", rate_limit_period),
            adaptive=adaptive,
            log=self.log,
        )
        """How many requests the hook's threads keep in flight and start per period."""

    # -- connection -------------------------------------------------------------------------

    @cached_property
    def _account(self) -> PlivoAccount:
        return PlivoAccount.from_connection(self.get_connection(self.plivo_conn_id))

    @property
    def auth_id(self) -> str:
        """The Auth ID of the connection (not a secret: it is in every API path)."""
        return self._account.auth_id

    @property
    def base_url(self) -> str:
        """The API origin this hook calls, e.g. ``https://api.plivo.com``."""
        return self._account.base_url

    @cached_property
    def client(self) -> PlivoClient:
        """The ready client: this connection's account, this hook's retries, pool and rate limit."""
        from airflow_provider_plivo.client import PlivoClient

        return PlivoClient(self._account, **self._client_settings())

    def _client_settings(self) -> dict[str, Any]:
        """What the blocking and the async client share: retries, pool size, limiter, log."""
        return {
            "retry_attempts": self.retry_attempts,
            "retry_wait_initial": self.retry_wait_initial,
            "retry_wait_max": self.retry_wait_max,
            "pool_size": self.max_concurrency,
            "limiter": self.limiter,
            "logger": self.log,
        }

    @cached_property
    def uploader(self) -> MediaUploader:
        """Uploads batches of media through :attr:`client` with this hook's chunk size, file size
        limit and concurrency (what the upload operator drives)."""
        from airflow_provider_plivo.uploads import MediaUploader

        return MediaUploader(
            self.client,
            chunk_size=self.chunk_size,
            max_file_size=self.max_file_size,
            max_concurrency=self.max_concurrency,
            log=self.log,
        )

    @cached_property
    def sender(self) -> MessageSender:
        """Sends messages through :attr:`client`, as many requests at a time as :attr:`limiter` allows."""
        from airflow_provider_plivo.sends import MessageSender

        return MessageSender(self.client, max_concurrency=self.max_concurrency, log=self.log)

    def get_conn(self) -> PlivoClient:
        """Return the ready :class:`~airflow_provider_plivo.client.PlivoClient` (Airflow's usual
        hook entry point): ``hook.get_conn().call("GET", "Media/")`` for any Plivo endpoint."""
        return self.client

    @property
    def session(self) -> requests.Session:
        """The authenticated ``requests.Session`` every call goes through."""
        return self.client.session

    def test_connection(self) -> tuple[bool, str]:
        """Make one authenticated call to Plivo, without retries and within 10 s, and say whether
        the connection works. Never raises: every failure is ``(False, reason)``."""
        try:
            timeout = min(self._account.timeout, TEST_CONNECTION_TIMEOUT)
            page = self.client.request("GET", "Media/", params={"limit": 1, "offset": 0}, timeout=timeout)
        except PlivoError as err:
            return False, str(err)
        except Exception as err:
            return False, f"{type(err).__name__}: {err}"
        total = page.get("meta", {}).get("total_count", "unknown")
        return True, f"Connected to Plivo as {self.auth_id} ({total} media stored)"

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Connection form layout for Airflow before 3.2 (3.2+ reads ``get_provider_info``)."""
        from airflow_provider_plivo.get_provider_info import UI_FIELD_BEHAVIOUR

        return {
            "hidden_fields": UI_FIELD_BEHAVIOUR["hidden-fields"],
            "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
            "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
        }

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Extra connection fields for Airflow before 3.2 (3.2+ reads ``get_provider_info``)."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import StringField
        from wtforms.validators import Optional, Regexp

        return {
            "timeout": StringField(
                lazy_gettext("Request timeout (seconds)"),
                widget=BS3TextFieldWidget(),
                validators=[Optional(), Regexp(r"^\d+(\.\d+)?$")],
                description=f"Seconds any one request to Plivo may take (default {DEFAULT_TIMEOUT:g}).",
            ),
        }

    # -- media ------------------------------------------------------------------------------

    def upload_media(
        self,
        files: str
        | os.PathLike[str]
        | ObjectStoragePath
        | Sequence[str | os.PathLike[str] | ObjectStoragePath],
        *,
        already_uploaded: Mapping[str, MediaRecord] | None = None,
        on_chunk_uploaded: Callable[[list[MediaRecord]], None] | None = None,
    ) -> list[MediaRecord]:
        """
        Upload ``files`` to Plivo, at most ``chunk_size`` per request and as many requests at a
        time as :attr:`limiter` allows, and describe each upload.

        ``files`` are local paths, ``file://`` URIs, object storage URIs (``s3://``, ``gs://``...)
        or :class:`~airflow.sdk.ObjectStoragePath` objects (one of them alone is a list of one);
        remote files are streamed, not copied. Every file is checked (exists, type, size) before
        anything is sent. A file listed twice is uploaded once and both positions get its record.
        Returns one :class:`~airflow_provider_plivo.records.MediaRecord` per input file, in input
        order: ``file`` (the path or URI as given), ``media_id``, ``media_url``, ``content_type``,
        ``size``, ``upload_time``, ``file_name``.

        :param already_uploaded: records of files uploaded before (by path), reused instead of
            uploaded again: how a retried task resumes.
        :param on_chunk_uploaded: called with each chunk's new records as soon as it is done,
            always on the calling thread (so it may use Airflow's task state store).
        :raises PlivoMediaValidationError: naming every invalid file; nothing was sent.
        :raises PlivoAuthenticationError: the credentials were refused; stops at once.
        :raises PlivoMediaUploadError: naming every file that could not be uploaded after retries,
            with the records of those that could. Chunks already in flight finish first.
        """
        from airflow_provider_plivo.sources import media_files

        return self.uploader.upload(
            media_files(files), already_uploaded=already_uploaded, on_chunk_uploaded=on_chunk_uploaded
        )

    def get_media(self, media_id: str) -> dict[str, Any]:
        """Return Plivo's description of one uploaded media file (``media_url`` always set)."""
        return _with_media_url(self.client.call("GET", f"Media/{_path_id(media_id, 'media ID')}/"))

    def list_media(self) -> list[dict[str, Any]]:
        """Return every media file of the account, walking Plivo's pages (``media_url`` always set)."""
        return [
            _with_media_url(media)
            for media in self.client.iter_objects("Media/", {}, page_size=MEDIA_PAGE_SIZE)
        ]

    # -- messages ---------------------------------------------------------------------------

    def send_message(
        self,
        *,
        src: str | None = None,
        dst: str | Sequence[str],
        text: str | None = None,
        media_ids: str | Sequence[str] | None = None,
        media_urls: str | Sequence[str] | None = None,
        powerpack_uuid: str | None = None,
        ledger: SendLedger | None = None,
        **params: Any,
    ) -> SentMessages:
        """
        Send one SMS or MMS to any number of recipients; return their message UUIDs.

        ``dst`` is a number, a list of numbers, or numbers joined with ``<``; each number gets
        one message however often it is listed. Numbers go to Plivo in requests of at most
        1,000, as many at a time as :attr:`limiter` allows. The type is ``mms`` when media is
        given. Further Plivo parameters (``url``, ``method``, ``log``...) pass through
        ``params``. Everything is checked before anything is sent (one string is one ID in
        ``media_ids``/``media_urls``).

        The result is a list of message UUIDs, one per number messaged, that also tells who got
        which (``.messages``: ``[{"number", "message_uuid"}]``) and which numbers Plivo refused
        as invalid (``.invalid_numbers``, also logged as a warning).

        A send is not idempotent, so a request is retried only where Plivo surely did not act on
        it: the connection could not be opened, or Plivo answered 429 or 503. ``ledger`` records
        each request so that a later call (a retried task) never messages a number twice.

        :raises PlivoMessageValidationError: naming every problem; nothing was sent.
        :raises PlivoUnknownMediaError: Plivo does not know a media ID (expired after 6 hours?).
        """
        payload, numbers = _checked_message(
            src=src,
            dst=dst,
            text=text,
            media_ids=media_ids,
            media_urls=media_urls,
            powerpack_uuid=powerpack_uuid,
            params=params,
        )
        return self.sender.send(payload, numbers, ledger=ledger)

    def get_message(self, message_uuid: str) -> dict[str, Any]:
        """Return Plivo's record of one message, including ``message_state`` and ``error_code``."""
        return self.client.call("GET", f"Message/{_path_id(message_uuid, 'message UUID')}/")

    def list_messages(self, **filters: Any) -> list[dict[str, Any]]:
        """Return the account's messages, newest first, walking every page.

        ``filters`` are Plivo's: ``message_time__gte``/``__gt``/``__lte``/``__lt``
        (``"YYYY-MM-DD HH:MM[:ss[.uuuuuu]]"``), ``message_state``, ``message_direction``,
        ``message_type``, ``error_code``.
        """
        return list(self.client.iter_objects("Message/", filters, page_size=MESSAGE_PAGE_SIZE))

    def get_message_media(self, message_uuid: str) -> list[dict[str, Any]]:
        """Return the media one message carried (``media_url`` always set)."""
        path = f"Message/{_path_id(message_uuid, 'message UUID')}/Media/"
        return [
            _with_media_url(media) for media in self.client.iter_objects(path, {}, page_size=MEDIA_PAGE_SIZE)
        ]

    def get_messages(self, message_uuids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Plivo's record of each message, within the rate limit and as cheaply as it can.

        Many messages are read from Plivo's message list, 20 to a request, newest first, stopping
        once all are found (2,500 messages: about 125 requests instead of 2,500); the few it does
        not reach, and small sets, are fetched one by one, as many at a time as :attr:`limiter`
        allows.
        """
        from concurrent.futures import ThreadPoolExecutor

        found: dict[str, dict[str, Any]] = {}
        if len(message_uuids) > MESSAGE_PAGE_SIZE:
            first = self.get_message(message_uuids[0])
            found[message_uuids[0]] = first
            pages = _MessageListSearch(message_uuids, first)
            for message in self.client.iter_objects("Message/", pages.filters, page_size=MESSAGE_PAGE_SIZE):
                if pages.take(message, found):
                    break
        missing = [uuid for uuid in message_uuids if uuid not in found]
        if missing:
            _ = self.client.session  # on the calling thread: Airflow serves connections there only
            with ThreadPoolExecutor(
                max_workers=min(self.max_concurrency, len(missing)), thread_name_prefix="plivo-status"
            ) as pool:
                found.update(zip(missing, pool.map(self.get_message, missing), strict=True))
        return {uuid: found[uuid] for uuid in message_uuids}

    # -- async, for triggers and async notifiers ---------------------------------------------

    async def aget_client(self) -> AsyncPlivoClient:
        """An :class:`~airflow_provider_plivo.client.AsyncPlivoClient` for this connection, fetched
        without blocking the event loop; close it (``async with``) when done."""
        import asyncio

        from airflow_provider_plivo.client import AsyncPlivoClient

        conn = await self.aget_connection(self.plivo_conn_id)
        client = AsyncPlivoClient(PlivoAccount.from_connection(conn), **self._client_settings())
        # The first async client of a process loads the CA store, compiles httpx's URL parser and
        # loads anyio's asyncio backend: each up to 100 ms that must not stall the triggerer's
        # loop, so the first one is built in a thread (once; later ones cost well under 1 ms).
        if not _ASYNC_CLIENT_READY.is_set():
            await asyncio.to_thread(_prepare_async_client, client)
        return client

    async def aget_messages(
        self, client: AsyncPlivoClient, message_uuids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """:meth:`get_messages` on the event loop: the message list for many, single fetches for
        the rest, as many at a time as :attr:`limiter` allows now."""
        import asyncio

        # Coroutines waiting for the limiter look again every few milliseconds: keep them few.
        slots = asyncio.Semaphore(self.limiter.concurrency)

        async def fetch(uuid: str) -> dict[str, Any]:
            async with slots:
                return await client.acall("GET", f"Message/{_path_id(uuid, 'message UUID')}/")

        found: dict[str, dict[str, Any]] = {}
        if len(message_uuids) > MESSAGE_PAGE_SIZE:
            first = await fetch(message_uuids[0])
            found[message_uuids[0]] = first
            pages = _MessageListSearch(message_uuids, first)
            async for message in client.aiter_objects("Message/", pages.filters, page_size=MESSAGE_PAGE_SIZE):
                if pages.take(message, found):
                    break
        missing = [uuid for uuid in message_uuids if uuid not in found]
        found.update(zip(missing, await asyncio.gather(*map(fetch, missing)), strict=True))
        return {uuid: found[uuid] for uuid in message_uuids}

    async def asend_message(
        self,
        client: AsyncPlivoClient,
        *,
        src: str | None = None,
        dst: str | Sequence[str],
        text: str | None = None,
        media_ids: str | Sequence[str] | None = None,
        media_urls: str | Sequence[str] | None = None,
        powerpack_uuid: str | None = None,
        **params: Any,
    ) -> list[str]:
        """:meth:`send_message` on the event loop, one request of at most 1,000 numbers after
        another; the message UUIDs. For notifiers, which keep no ledger."""
        from airflow_provider_plivo.client import send_is_safe_to_retry
        from airflow_provider_plivo.limits import MAX_NUMBERS_PER_MESSAGE
        from airflow_provider_plivo.utils.message_rules import DST_SEPARATOR

        payload, numbers = _checked_message(
            src=src,
            dst=dst,
            text=text,
            media_ids=media_ids,
            media_urls=media_urls,
            powerpack_uuid=powerpack_uuid,
            params=params,
        )
        uuids: list[str] = []
        for start in range(0, len(numbers), MAX_NUMBERS_PER_MESSAGE):
            body = {**payload, "dst": DST_SEPARATOR.join(numbers[start : start + MAX_NUMBERS_PER_MESSAGE])}
            answer = await client.acall("POST", "Message/", json=body, should_retry=send_is_safe_to_retry)
            uuids.extend(str(uuid) for uuid in answer.get("message_uuid") or [])
        return uuids


_PATH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def _path_id(value: str, what: str) -> str:
    """``value`` if it can stand as one URL path segment; a clear error before any request if not
    (an empty or path-like ID would call another endpoint)."""
    if not isinstance(value, str) or not _PATH_ID.fullmatch(value):
        raise PlivoError(f"{value!r} is not a Plivo {what}")
    return value


def _with_media_url(media: dict[str, Any]) -> dict[str, Any]:
    """Plivo's media object with ``media_url`` set, also where Plivo named the link ``url``."""
    return {**media, "media_url": media.get("media_url") or media.get("url")}


_ASYNC_CLIENT_READY = threading.Event()
_ASYNC_CLIENT_LOCK = threading.Lock()


def _prepare_async_client(client: AsyncPlivoClient) -> None:
    """Do the slow first-time work of async clients off the event loop (see ``aget_client``)."""
    import anyio

    with _ASYNC_CLIENT_LOCK:
        if not _ASYNC_CLIENT_READY.is_set():
            client.async_session.build_request("GET", client.account.api_root)
            anyio.run(anyio.sleep, 0)
            _ASYNC_CLIENT_READY.set()


class _MessageListSearch:
    """Finding known messages in Plivo's message list: outbound, sent since the first of them,
    newest first. Gives up once it read as many pages as single fetches would cost."""

    def __init__(self, message_uuids: Sequence[str], first: Mapping[str, Any]) -> None:
        from datetime import datetime, timezone

        from airflow_provider_plivo.utils.message_rules import message_time, sent_since_filter

        self._wanted = set(message_uuids)
        sent_at = message_time(first.get("message_time")) or datetime.now(timezone.utc)
        self.filters = {"message_direction": "outbound", "message_time__gte": sent_since_filter(sent_at)}
        self._budget = len(message_uuids) * MESSAGE_PAGE_SIZE // 2
        self._missing = len(self._wanted) - 1  # the first message is already found

    def take(self, message: Mapping[str, Any], found: dict[str, dict[str, Any]]) -> bool:
        """Keep ``message`` if it is one of ours; True once the search should stop."""
        uuid = message.get("message_uuid")
        if uuid in self._wanted and uuid not in found:
            found[uuid] = dict(message)
            self._missing -= 1
        self._budget -= 1
        return self._missing <= 0 or self._budget <= 0


def _checked_message(
    *,
    src: str | None,
    dst: str | Sequence[str],
    text: str | None,
    media_ids: str | Sequence[str] | None,
    media_urls: str | Sequence[str] | None,
    powerpack_uuid: str | None,
    params: Mapping[str, Any],
) -> tuple[dict[str, Any], list[str]]:
    """The checked ``POST Message/`` body and the unique destination numbers, in order."""
    from airflow_provider_plivo.utils.message_rules import destination_numbers, message_payload

    numbers = destination_numbers(dst)
    payload = message_payload(
        src=src,
        dst=numbers,
        text=text,
        media_ids=_string_items(media_ids),
        media_urls=_string_items(media_urls),
        powerpack_uuid=powerpack_uuid,
        params=params,
    )
    return payload, numbers


def _string_items(value: str | Sequence[str] | None) -> list[str]:
    """A list of strings: one string is one item, never a sequence of characters."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _whole_number(name: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` if it is a whole number within bounds; otherwise an error naming the argument."""
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < low
        or (high is not None and value > high)
    ):
        bounds = f"{low} to {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{name} must be {bounds} (a whole number), got {value!r}")
    return value


def _seconds(name: str, value: object) -> float:
    """``value`` if it is a finite, non-negative number of seconds; otherwise an error naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be a finite number of seconds, 0 or more, got {value!r}")
    return float(value)
