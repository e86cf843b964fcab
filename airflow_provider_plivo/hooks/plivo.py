"""PlivoHook: the ``plivo`` connection type, and Plivo's media and message APIs for tasks.

The hook reads the connection and offers the calls a task needs; the work is done below it:
the plans of :mod:`airflow_provider_plivo.messages`, the uploader of
:mod:`airflow_provider_plivo.media`, run by the drivers of :mod:`airflow_provider_plivo.transport`.
DAG files import this module on every parse, so only ``airflow.sdk`` is imported at module level.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_plivo.limits import (
    ACCOUNT_RATE_LIMIT,
    ACCOUNT_RATE_LIMIT_PERIOD,
    MAX_FILES_PER_UPLOAD,
    MAX_MEDIA_FILE_SIZE,
    MEDIA_PAGE_SIZE,
    MESSAGE_LIST_RATE_LIMIT,
    MESSAGE_LIST_RATE_LIMIT_PERIOD,
    MESSAGE_PAGE_SIZE,
)
from airflow_provider_plivo.settings import DEFAULT_MAX_CONCURRENCY, HookSettings
from airflow_provider_plivo.transport.account import DEFAULT_TIMEOUT, PlivoAccount

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Mapping, Sequence

    from airflow.sdk import ObjectStoragePath

    from airflow_provider_plivo.media.sources import MediaFile
    from airflow_provider_plivo.media.uploader import MediaUploader, UploadLedger
    from airflow_provider_plivo.messages.pacing import SendingSpeed
    from airflow_provider_plivo.messages.sender import SendLedger, SentMessages
    from airflow_provider_plivo.records import MediaRecord
    from airflow_provider_plivo.transport.async_client import AsyncPlivoClient
    from airflow_provider_plivo.transport.client import PlivoClient
    from airflow_provider_plivo.transport.core import Plan
    from airflow_provider_plivo.transport.limiter import HookLimiter

__all__ = ["DEFAULT_MAX_CONCURRENCY", "PlivoHook"]

TEST_CONNECTION_TIMEOUT = 10.0
"""The longest the connection test waits, so the UI's Test button answers promptly."""


class PlivoHook(BaseHook):
    """
    Talk to Plivo with the credentials of a ``plivo`` connection.

    The connection's login is the Auth ID, its password the Auth Token, its host an optional
    API base URL (``https://api.plivo.com`` when empty; plain http only for loopback hosts such
    as the bundled sandbox), its extra ``timeout`` the seconds any one request may take, and its
    extra ``mps`` the account's outbound messages per second (:attr:`sending_speed`).

    Transient failures (connection errors, timeouts, HTTP 429 and 5xx, malformed answers) are
    retried with exponential backoff and jitter, honouring ``Retry-After``; other 4xx fail at once.
    The blocking calls have async twins in name only (``aget_messages``, ``asend_message``): both
    run the same plan, on a worker thread or on the triggerer's event loop.

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
        hook had, as other tasks share it (see :mod:`airflow_provider_plivo.transport.limiter`).
        False keeps ``max_concurrency`` and ``rate_limit`` as fixed limits.
    :param message_list_rate_limit: the most message list requests (``GET Message/``, used by
        ``list_messages``, the sensor's polls and send reconciliation) Plivo allows the account per
        ``message_list_rate_limit_period``: 20 per minute unless Plivo raised it for you. Shared by
        every hook, trigger and notifier of the account in the process; a 429 from the list
        slows only the list. None for no limit of the list's own (the account's still holds).
    :param message_list_rate_limit_period: the window of ``message_list_rate_limit``, in seconds.
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
        message_list_rate_limit: int | None = MESSAGE_LIST_RATE_LIMIT,
        message_list_rate_limit_period: float = MESSAGE_LIST_RATE_LIMIT_PERIOD,
    ) -> None:
        super().__init__()
        self.plivo_conn_id = plivo_conn_id
        self.settings = HookSettings(
            chunk_size=chunk_size,
            max_file_size=max_file_size,
            retry_attempts=retry_attempts,
            retry_wait_initial=retry_wait_initial,
            retry_wait_max=retry_wait_max,
            max_concurrency=max_concurrency,
            rate_limit=rate_limit,
            rate_limit_period=rate_limit_period,
            adaptive=adaptive,
            message_list_rate_limit=message_list_rate_limit,
            message_list_rate_limit_period=message_list_rate_limit_period,
        )

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
    def sending_speed(self) -> SendingSpeed:
        """How fast Plivo dispatches this account's messages, from the connection's extras:
        ``mps`` (messages per second, one number for every type or ``{"sms": 5, "mms": 0.25}``;
        a type not given keeps Plivo's signup figure, 5 SMS and 0.25 MMS) and ``time_scale``
        (1 unless a sandbox runs its clock faster). See :mod:`airflow_provider_plivo.messages.pacing`.

        :raises PlivoError: naming the connection and the extra, when either is not a positive number.
        """
        from airflow_provider_plivo.messages.pacing import SendingSpeed

        extras = self.get_connection(self.plivo_conn_id).extra_dejson
        return SendingSpeed.from_extras(extras, conn_id=self.plivo_conn_id)

    @cached_property
    def limiter(self) -> HookLimiter:
        """This hook's ceilings over the one limiter every hook, trigger and notifier of the
        account shares in this process (keyed by base URL and Auth ID)."""
        from airflow_provider_plivo.transport.limiter import HookLimiter, account_limiter

        settings = self.settings
        return HookLimiter(
            account_limiter(self._account.base_url, self._account.auth_id),
            max_concurrency=settings.max_concurrency,
            rate_limit=settings.rate_limit,
            rate_limit_period=settings.rate_limit_period,
            adaptive=settings.adaptive,
            message_list_rate_limit=settings.message_list_rate_limit,
            message_list_rate_limit_period=settings.message_list_rate_limit_period,
            log=self.log,
        )

    @cached_property
    def client(self) -> PlivoClient:
        """The ready client: this connection's account, this hook's retries, pool and limits."""
        from airflow_provider_plivo.transport.client import PlivoClient

        return PlivoClient(self._account, **self._client_settings())

    def _client_settings(self) -> dict[str, Any]:
        """What the blocking and the async client share: retries, pool size, limiter, log."""
        from airflow_provider_plivo.transport.core import RetryPolicy

        settings = self.settings
        return {
            "retry": RetryPolicy(
                settings.retry_attempts, settings.retry_wait_initial, settings.retry_wait_max
            ),
            "pool_size": settings.max_concurrency,
            "limiter": self.limiter,
            "logger": self.log,
        }

    def get_conn(self) -> PlivoClient:
        """Return the ready :class:`~airflow_provider_plivo.transport.client.PlivoClient` (Airflow's
        usual hook entry point): ``hook.get_conn().call("GET", "Media/")`` for any Plivo endpoint."""
        return self.client

    async def aget_client(self) -> AsyncPlivoClient:
        """An :class:`~airflow_provider_plivo.transport.async_client.AsyncPlivoClient` for this
        connection, fetched without blocking the event loop; close it (``async with``) when done."""
        from airflow_provider_plivo.transport.async_client import open_async_client

        if "_account" not in self.__dict__:  # read without blocking the loop, once
            self._account = PlivoAccount.from_connection(await self.aget_connection(self.plivo_conn_id))
        return await open_async_client(self._account, **self._client_settings())

    def stop(self) -> None:
        """Stop this hook's work (its task is being killed or timed out): no new request starts,
        retries end, what is in flight finishes within its timeout. For ``on_kill``."""
        if "client" in self.__dict__:
            self.client.stop()

    def test_connection(self) -> tuple[bool, str]:
        """Make one authenticated call to Plivo, without retries and within 10 s, and say whether
        the connection works. Never raises: every failure is ``(False, reason)``."""
        from airflow_provider_plivo.transport.core import Request

        try:
            timeout = min(self._account.timeout, TEST_CONNECTION_TIMEOUT)
            page = self.client.request(
                Request("GET", "Media/", params={"limit": 1, "offset": 0}, timeout=timeout)
            )
            # Recorded bodies have "meta": null, or no total_count; a count is shown only if it is one.
            meta = page.get("meta")
            total = meta.get("total_count") if isinstance(meta, dict) else None
            count = f"{total:,}" if isinstance(total, int) and not isinstance(total, bool) else "unknown"
            return True, f"Connected to Plivo as {self.auth_id} ({count} media stored)"
        except Exception as err:
            from airflow_provider_plivo.exceptions import PlivoError

            return False, str(err) if isinstance(err, PlivoError) else f"{type(err).__name__}: {err}"

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

        from airflow_provider_plivo.get_provider_info import MPS_FIELD_DESCRIPTION

        return {
            "timeout": StringField(
                lazy_gettext("Request timeout (seconds)"),
                widget=BS3TextFieldWidget(),
                validators=[Optional(), Regexp(r"^\d+(\.\d+)?$")],
                description=f"Seconds any one request to Plivo may take (default {DEFAULT_TIMEOUT:g}).",
            ),
            "mps": StringField(
                lazy_gettext("Messages per second (MPS)"),
                widget=BS3TextFieldWidget(),
                description=MPS_FIELD_DESCRIPTION,
            ),
        }

    # -- media ------------------------------------------------------------------------------

    @cached_property
    def uploader(self) -> MediaUploader:
        """Uploads batches of media through :attr:`client` with this hook's chunk size, file size
        limit and concurrency."""
        from airflow_provider_plivo.media.uploader import MediaUploader

        return MediaUploader(
            self.client,
            chunk_size=self.settings.chunk_size,
            max_file_size=self.settings.max_file_size,
            max_concurrency=self.settings.max_concurrency,
            log=self.log,
        )

    def upload_media(
        self,
        files: str
        | os.PathLike[str]
        | ObjectStoragePath
        | Sequence[str | os.PathLike[str] | ObjectStoragePath | MediaFile],
        *,
        already_uploaded: Mapping[str, MediaRecord] | None = None,
        on_chunk_uploaded: Callable[[list[MediaRecord]], None] | None = None,
        ledger: UploadLedger | None = None,
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
            always on the calling thread (so it may use Airflow's task state store); chunks go
            on being sent while it runs.
        :param ledger: where the upload keeps what it does for a later try
            (:class:`~airflow_provider_plivo.media.uploader.UploadLedger`, e.g. the task state
            store's): the intent of each wave before it goes, and the records of finished chunks
            in a few coalesced writes. A later call with the same ledger reuses the records, and
            looks for the files with intent but no record in Plivo's media list; what it cannot
            find there is uploaded again (media may duplicate: an unused copy expires in 6 hours).
        :raises PlivoMediaValidationError: naming every invalid file; nothing was sent.
        :raises PlivoAuthenticationError: the credentials were refused; stops at once.
        :raises PlivoMediaUploadError: naming every file that could not be uploaded after retries,
            with the records of those that could. Chunks already in flight finish first.
        """
        from airflow_provider_plivo.media.sources import media_files

        return self.uploader.upload(
            media_files(files),
            already_uploaded=already_uploaded,
            on_chunk_uploaded=on_chunk_uploaded,
            ledger=ledger,
        )

    def get_media(self, media_id: str) -> dict[str, Any]:
        """Return Plivo's description of one uploaded media file (``media_url`` always set)."""
        from airflow_provider_plivo.transport.core import path_id

        return _with_media_url(self.client.call("GET", f"Media/{path_id(media_id, 'media ID')}/"))

    def list_media(self) -> list[dict[str, Any]]:
        """Return every media file of the account, walking Plivo's pages (``media_url`` always set)."""
        from airflow_provider_plivo.transport.core import paged

        return [_with_media_url(m) for m in self.client.run(paged("Media/", {}, page_size=MEDIA_PAGE_SIZE))]

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
        ``media_ids``/``media_urls``), the 5 MB of one message too: with more than two
        ``media_ids`` their sizes are looked up first (:mod:`airflow_provider_plivo.messages.size`).

        The result is a list of message UUIDs, one per number messaged, that also tells who got
        which (``.messages``: ``[{"number", "message_uuid"}]``) and which numbers Plivo refused
        as invalid (``.invalid_numbers``, also logged as a warning).

        A send is not idempotent, so a request is retried only where Plivo surely did not act on
        it: the connection could not be opened, or Plivo answered 429 or 503. ``ledger`` records
        each request so that a later call (a retried task) never messages a number twice.

        :raises PlivoMessageValidationError: naming every problem (each media with its size when
            the message is over 5 MB); nothing was sent.
        :raises PlivoUnknownMediaError: Plivo does not know a media ID (expired after 6 hours?).
        """
        message = {"src": src, "dst": dst, "text": text, "media_ids": media_ids, "media_urls": media_urls}
        return self.client.run(
            self._send_plan({**message, "powerpack_uuid": powerpack_uuid, **params}, ledger)
        )

    async def asend_message(self, client: AsyncPlivoClient, **message: Any) -> SentMessages:
        """:meth:`send_message` on the event loop through ``client``, with the same arguments but
        ``ledger`` (for notifiers, which keep none)."""
        return await client.run(self._send_plan(message))

    def send_checked_message(
        self, payload: Mapping[str, Any], numbers: Sequence[str], *, ledger: SendLedger | None = None
    ) -> SentMessages:
        """:meth:`send_message` of a body that
        :func:`~airflow_provider_plivo.messages.rules.checked_message` made for ``numbers`` (or
        more): the operator checks every number once, before its first wave, and 10,000
        numbers take over a second to check, time a short ``execution_timeout`` cannot spare
        twice. The 5 MB of the message are checked here."""
        return self.client.run(self._checked_send_plan(payload, numbers, ledger))

    def _send_plan(self, message: dict[str, Any], ledger: SendLedger | None = None) -> Plan[SentMessages]:
        from airflow_provider_plivo.messages.rules import checked_message

        payload, numbers = checked_message(**message)
        return self._checked_send_plan(payload, numbers, ledger)

    def _checked_send_plan(
        self, payload: Mapping[str, Any], numbers: Sequence[str], ledger: SendLedger | None
    ) -> Plan[SentMessages]:
        from airflow_provider_plivo.messages.sender import send_plan
        from airflow_provider_plivo.messages.size import size_checked

        return size_checked(payload, send_plan(payload, numbers, log=self.log, ledger=ledger))

    def get_message(self, message_uuid: str) -> dict[str, Any]:
        """Return Plivo's record of one message, including ``message_state`` and ``error_code``."""
        from airflow_provider_plivo.messages.status import message_request

        return self.client.execute(message_request(message_uuid))

    def list_messages(self, **filters: Any) -> list[dict[str, Any]]:
        """Return the account's messages, newest first, walking every page.

        The pages keep to the message list's own limit (``message_list_rate_limit``, 20 per
        minute by default): a list of more than 400 messages waits for the next minute.

        ``filters`` are Plivo's: ``message_time__gte``/``__gt``/``__lte``/``__lt``
        (``"YYYY-MM-DD HH:MM[:ss[.uuuuuu]]"``), ``message_state``, ``message_direction``,
        ``message_type``, ``error_code``.
        """
        from airflow_provider_plivo.transport.core import paged

        return self.client.run(paged("Message/", filters, page_size=MESSAGE_PAGE_SIZE))

    def get_message_media(self, message_uuid: str) -> list[dict[str, Any]]:
        """Return the media one message carried (``media_url`` always set)."""
        from airflow_provider_plivo.transport.core import paged, path_id

        path = f"Message/{path_id(message_uuid, 'message UUID')}/Media/"
        return [_with_media_url(m) for m in self.client.run(paged(path, {}, page_size=MEDIA_PAGE_SIZE))]

    def get_messages(self, message_uuids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Plivo's record of each message it knows, within the limits and as cheaply as it can:
        message list pages while the list's own budget has room now, single reads for the rest
        (see :mod:`airflow_provider_plivo.messages.status`). A message Plivo answers 404 for is
        left out (and logged as a warning); other errors raise."""
        return self.client.run(self._message_states_plan(message_uuids))

    async def aget_messages(
        self, client: AsyncPlivoClient, message_uuids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """:meth:`get_messages` on the event loop through ``client``."""
        return await client.run(self._message_states_plan(message_uuids))

    def _message_states_plan(self, message_uuids: Sequence[str]) -> Plan[dict[str, dict[str, Any]]]:
        from airflow_provider_plivo.messages.status import message_states_plan

        return message_states_plan(message_uuids, list_pages=self.limiter.message_list_room(), log=self.log)


def _with_media_url(media: dict[str, Any]) -> dict[str, Any]:
    """Plivo's media object with ``media_url`` set, also where Plivo named the link ``url``."""
    return {**media, "media_url": media.get("media_url") or media.get("url")}
