"""PlivoHook: the ``plivo`` connection type, and Plivo's media and message APIs for tasks.

The hook reads the connection and offers the calls a task needs; the work is done below it:
:mod:`airflow_provider_plivo.client` (HTTP, retries, errors) and
:mod:`airflow_provider_plivo.uploads` (batches of media). DAG files import this module on every
parse, so only ``airflow.sdk`` is imported at module level.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from airflow_provider_plivo.connection import DEFAULT_TIMEOUT, PlivoAccount
from airflow_provider_plivo.exceptions import (
    PlivoAPIError,
    PlivoError,
    PlivoResponseError,
    PlivoUnknownMediaError,
)
from airflow_provider_plivo.limits import (
    ACCOUNT_RATE_LIMIT,
    ACCOUNT_RATE_LIMIT_PERIOD,
    MAX_FILES_PER_UPLOAD,
    MAX_MEDIA_FILE_SIZE,
    MEDIA_PAGE_SIZE,
)
from airflow_provider_plivo.utils.rate_limit import RateLimiter

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Collection, Mapping, Sequence

    import requests
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_plivo.client import PlivoClient
    from airflow_provider_plivo.records import MediaRecord
    from airflow_provider_plivo.uploads import MediaUploader
    from airflow_provider_plivo.utils.message_rules import DeliveryOutcome

__all__ = ["DEFAULT_MAX_CONCURRENCY", "PlivoHook"]

DEFAULT_MAX_CONCURRENCY = 16
"""Upload requests one hook keeps in flight; Plivo allows 100 per account."""

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
    :param max_concurrency: upload requests in flight at once. Plivo allows 100 simultaneous
        requests per account; the default of 16 leaves room for six such tasks at once.
    :param rate_limit: requests this hook starts per ``rate_limit_period`` seconds, across all its
        threads (Plivo's account limit is 300 per 5 s); None for no limit.
    :param rate_limit_period: the window of ``rate_limit``, in seconds.
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
    ) -> None:
        super().__init__()
        if not 1 <= chunk_size <= MAX_FILES_PER_UPLOAD:
            raise ValueError(f"chunk_size must be 1 to {MAX_FILES_PER_UPLOAD}, got {chunk_size}")
        if retry_attempts < 1:
            raise ValueError(f"retry_attempts must be at least 1, got {retry_attempts}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.plivo_conn_id = plivo_conn_id
        self.chunk_size = chunk_size
        self.max_file_size = max_file_size
        self.retry_attempts = retry_attempts
        self.retry_wait_initial = retry_wait_initial
        self.retry_wait_max = retry_wait_max
        self.max_concurrency = max_concurrency
        self._rate_limiter = RateLimiter(rate_limit, rate_limit_period) if rate_limit else None

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

        return PlivoClient(
            self._account,
            retry_attempts=self.retry_attempts,
            retry_wait_initial=self.retry_wait_initial,
            retry_wait_max=self.retry_wait_max,
            pool_size=self.max_concurrency,
            rate_limiter=self._rate_limiter,
            logger=self.log,
        )

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
        Upload ``files`` to Plivo, at most ``chunk_size`` per request and ``max_concurrency``
        requests at a time, and describe each upload.

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
        """Return Plivo's description of one uploaded media file."""
        return self.client.call("GET", f"Media/{media_id}/")

    def list_media(self) -> list[dict[str, Any]]:
        """Return every media file of the account, walking all of Plivo's pages."""
        media: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.client.call("GET", "Media/", params={"limit": MEDIA_PAGE_SIZE, "offset": offset})
            objects = page.get("objects") or []
            media.extend(objects)
            if not page.get("meta", {}).get("next") or not objects:
                return media
            offset += len(objects)

    # -- messages ---------------------------------------------------------------------------

    def send_message(
        self,
        *,
        src: str | None = None,
        dst: str | Sequence[str],
        text: str | None = None,
        media_ids: Sequence[str] | None = None,
        media_urls: Sequence[str] | None = None,
        powerpack_uuid: str | None = None,
        **params: Any,
    ) -> list[str]:
        """
        Send one SMS or MMS to one or more numbers in one request; return Plivo's message UUIDs.

        ``dst`` is a number or a list of numbers (joined with ``<`` for Plivo). The type is
        ``mms`` when media is given. Further Plivo parameters (``url``, ``method``, ``log``...)
        pass through ``params``. Everything is checked before sending.

        A send is not idempotent, so it is retried only where Plivo surely did not act on it:
        the connection could not be opened, or Plivo answered 429 or 503. A timeout, a reset
        or any other error after the request went out fails at once, to never send twice.

        :raises PlivoMessageValidationError: naming every problem; nothing was sent.
        :raises PlivoUnknownMediaError: Plivo does not know a media ID (expired after 6 hours?).
        """
        from airflow_provider_plivo.client import excerpt, send_is_safe_to_retry
        from airflow_provider_plivo.utils.message_rules import DST_SEPARATOR, message_payload

        numbers = [n for d in ([dst] if isinstance(dst, str) else dst) for n in d.split(DST_SEPARATOR)]
        payload = message_payload(
            src=src,
            dst=numbers,
            text=text,
            media_ids=list(media_ids or []),
            media_urls=list(media_urls or []),
            powerpack_uuid=powerpack_uuid,
            params=params,
        )
        try:
            body = self.client.call("POST", "Message/", json=payload, should_retry=send_is_safe_to_retry)
        except PlivoAPIError as err:
            if media_ids and 400 <= err.status_code < 500 and "media" in err.message.lower():
                raise PlivoUnknownMediaError(
                    status_code=err.status_code, message=err.message, endpoint=err.endpoint, api_id=err.api_id
                ) from err
            raise
        uuids = body.get("message_uuid")
        if not isinstance(uuids, list) or not uuids:
            raise PlivoResponseError(
                f"Plivo queued the message but returned no message UUIDs: {excerpt(str(body))}"
            )
        self.log.info(
            "Plivo queued %d message%s (%s) to %d number%s: %s",
            len(uuids),
            "s" if len(uuids) != 1 else "",
            payload.get("type", "sms"),
            len(numbers),
            "s" if len(numbers) != 1 else "",
            ", ".join(uuids),
        )
        return [str(uuid) for uuid in uuids]

    def get_message(self, message_uuid: str) -> dict[str, Any]:
        """Return Plivo's record of one message, including ``message_state`` and ``error_code``."""
        return self.client.call("GET", f"Message/{message_uuid}/")

    def delivery_outcome(
        self,
        message_uuids: Sequence[str],
        *,
        success_states: Collection[str],
        failure_states: Collection[str],
    ) -> DeliveryOutcome:
        """Fetch each message and judge where the set stands (used by the sensor and the trigger)."""
        from airflow_provider_plivo.utils.message_rules import delivery_outcome

        messages = {uuid: self.get_message(uuid) for uuid in message_uuids}
        return delivery_outcome(messages, success_states=success_states, failure_states=failure_states)

    async def aload_connection(self) -> None:
        """Fetch the connection without blocking the event loop; the hook's calls then reuse it.

        Triggers call this first, then run the (blocking) API calls in a worker thread.
        """
        conn = await self.aget_connection(self.plivo_conn_id)
        self.__dict__["_account"] = PlivoAccount.from_connection(conn)
