"""PlivoHook: the ``plivo`` connection type and a client for Plivo's media and message APIs.

DAG files import this module on every parse, so only ``airflow.sdk`` is imported at module
level; ``requests`` and ``tenacity`` load the first time the hook talks to Plivo.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from contextlib import nullcontext
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseHook

from airflow_provider_plivo import __version__
from airflow_provider_plivo.connection import DEFAULT_TIMEOUT, PlivoAccount
from airflow_provider_plivo.exceptions import (
    PlivoAPIError,
    PlivoAuthenticationError,
    PlivoConnectionError,
    PlivoError,
    PlivoMediaObjectError,
    PlivoMediaUploadError,
    PlivoResponseError,
    PlivoRetryableAPIError,
    PlivoTransientError,
    PlivoUnknownMediaError,
)
from airflow_provider_plivo.limits import (
    ACCOUNT_RATE_LIMIT,
    ACCOUNT_RATE_LIMIT_PERIOD,
    MAX_FILES_PER_UPLOAD,
    MAX_MEDIA_FILE_SIZE,
    MEDIA_PAGE_SIZE,
)
from airflow_provider_plivo.sources import MediaFile, media_file
from airflow_provider_plivo.utils.media_rules import media_content_type, validate_media_files
from airflow_provider_plivo.utils.message_rules import (
    DST_SEPARATOR,
    DeliveryOutcome,
    delivery_outcome,
    message_payload,
)
from airflow_provider_plivo.utils.rate_limit import RateLimiter

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Collection, Mapping, Sequence

    import requests
    from airflow.sdk import ObjectStoragePath
    from tenacity import RetryCallState

T = TypeVar("T")

USER_AGENT = f"airflow-provider-plivo/{__version__}"
DEFAULT_MAX_CONCURRENCY = 16
"""Upload requests one hook keeps in flight; Plivo allows 100 per account."""

_BODY_EXCERPT_CHARS = 200


RETRY_AFTER_MAX = 300.0
"""The longest ``Retry-After`` honoured, in seconds, so that the worst case of an upload stays bounded."""

UPLOAD_BLOCK_SIZE = 256 * 1024
"""Bytes sent per socket write of a streamed upload. urllib3's default of 16 KiB made 2 MB
files upload slower than the SDK's in-memory bodies; 256 KiB costs 2.5 MiB at 10 in flight."""


def _plivo_adapter(*, pool_maxsize: int) -> requests.adapters.HTTPAdapter:
    """An HTTPAdapter whose pool holds ``pool_maxsize`` connections and sends in large blocks."""
    from requests.adapters import HTTPAdapter

    class PlivoAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, blocksize=UPLOAD_BLOCK_SIZE, **kwargs)

    return PlivoAdapter(pool_connections=1, pool_maxsize=pool_maxsize)


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
    def session(self) -> requests.Session:
        """One ``requests.Session`` for every call, authenticated and identified as this provider,
        with a connection pool as large as ``max_concurrency`` so every thread reuses a connection."""
        import requests

        session = requests.Session()
        adapter = _plivo_adapter(pool_maxsize=self.max_concurrency)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.auth = (self._account.auth_id, self._account.auth_token)
        session.headers["User-Agent"] = USER_AGENT
        session.headers["Accept"] = "application/json"
        return session

    def get_conn(self) -> requests.Session:
        """Return the authenticated session (Airflow's usual hook entry point)."""
        return self.session

    def test_connection(self) -> tuple[bool, str]:
        """Make one authenticated call to Plivo and say whether the credentials work."""
        try:
            page = self._call("GET", "Media/", params={"limit": 1, "offset": 0})
        except PlivoError as err:
            return False, str(err)
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
        files: Sequence[str | os.PathLike[str] | ObjectStoragePath | MediaFile],
        *,
        already_uploaded: Mapping[str, Mapping[str, Any]] | None = None,
        on_chunk_uploaded: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """
        Upload ``files`` to Plivo, at most ``chunk_size`` per request and ``max_concurrency``
        requests at a time, and describe each upload.

        ``files`` are local paths, ``file://`` URIs, object storage URIs (``s3://``, ``gs://``...)
        or :class:`~airflow.sdk.ObjectStoragePath` objects; remote files are streamed, not copied.
        Every file is checked (exists, type, size) before anything is sent. A file listed twice
        is uploaded once and both positions get its record. Returns one record per input file,
        in input order: ``file`` (the path or URI as given), ``media_id``, ``media_url``,
        ``content_type``, ``size``, ``upload_time``, ``file_name``.

        :param already_uploaded: records of files uploaded before (by path), reused instead of
            uploaded again: how a retried task resumes.
        :param on_chunk_uploaded: called with each chunk's new records as soon as it is done,
            always on the calling thread (so it may use Airflow's task state store).
        :raises PlivoMediaValidationError: naming every invalid file; nothing was sent.
        :raises PlivoAuthenticationError: the credentials were refused; stops at once.
        :raises PlivoMediaUploadError: naming every file that could not be uploaded after retries,
            with the records of those that could. Chunks already in flight finish first.
        """
        from concurrent.futures import ThreadPoolExecutor, as_completed

        media = [media_file(f) for f in files]
        paths = [file.source for file in media]
        by_source = {file.source: file for file in reversed(media)}
        unique = list(dict.fromkeys(paths))
        validate_media_files([by_source[path] for path in unique], max_file_size=self.max_file_size)
        reused = already_uploaded or {}
        records: dict[str, dict[str, Any]] = {path: dict(reused[path]) for path in unique if path in reused}
        pending = [by_source[path] for path in unique if path not in records]
        if records:
            self.log.info(
                "Reusing %d media uploaded by an earlier try; %d files left", len(records), len(pending)
            )
        chunks = [pending[i : i + self.chunk_size] for i in range(0, len(pending), self.chunk_size)]
        failures: dict[str, str] = {}
        if chunks:
            # Resolve the connection here, on the task's thread: Airflow serves connections to a
            # task through a channel its worker threads cannot use, and a bad connection is one
            # error, not one per chunk.
            _ = self.session
            started = time.monotonic()
            retries: list[str] = []
            refused = threading.Event()
            workers = min(self.max_concurrency, len(chunks))
            self.log.info(
                "Uploading %d media files to Plivo in %d request%s of up to %d files, %d at a time",
                len(pending),
                len(chunks),
                "s" if len(chunks) != 1 else "",
                self.chunk_size,
                workers,
            )
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="plivo-upload") as pool:
                futures = {
                    pool.submit(
                        self._upload_chunk,
                        chunk,
                        label=f"upload of chunk {n}/{len(chunks)}",
                        retries=retries,
                        refused=refused,
                    ): n
                    for n, chunk in enumerate(chunks, start=1)
                }
                try:
                    for done, future in enumerate(as_completed(futures), start=1):
                        uploaded, failed = future.result()
                        records.update(uploaded)
                        failures.update(failed)
                        if uploaded and on_chunk_uploaded is not None:
                            on_chunk_uploaded(list(uploaded.values()))
                        self.log.info(
                            "Chunk %d/%d done (%d of %d): %d files uploaded%s; %d/%d files done",
                            futures[future],
                            len(chunks),
                            done,
                            len(chunks),
                            len(uploaded),
                            f", {len(failed)} failed" if failed else "",
                            len(records),
                            len(unique),
                        )
                except BaseException:
                    pool.shutdown(wait=True, cancel_futures=True)
                    raise
            self.log.info(
                "Uploaded %d of %d media files in %.1f s with %d retr%s%s",
                len(records),
                len(unique),
                time.monotonic() - started,
                len(retries),
                "y" if len(retries) == 1 else "ies",
                f" ({_count_reasons(retries)})" if retries else "",
            )
        if failures:
            raise PlivoMediaUploadError(failures, uploaded=[records[p] for p in paths if p in records])
        return [{**records[path], "file": path} for path in paths]

    def _upload_chunk(
        self, chunk: list[MediaFile], *, label: str, retries: list[str], refused: threading.Event
    ) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """Upload one chunk, retrying only its files still missing; return (records, failures).

        ``refused`` is set when Plivo refuses the credentials, so that no later chunk starts.
        """
        uploaded: dict[str, dict[str, Any]] = {}
        if refused.is_set():
            return uploaded, dict.fromkeys(
                (f.source for f in chunk), "not sent: Plivo refused the credentials"
            )

        def attempt() -> None:
            remaining = [file for file in chunk if file.source not in uploaded]
            objects = self._post_media(remaining)
            failed: dict[str, str] = {}
            for file, obj in zip(remaining, objects, strict=True):
                if obj.get("status", "success") == "success" and obj.get("media_id"):
                    uploaded[file.source] = _media_record(file, obj)
                else:
                    failed[file.source] = _object_failure(obj)
            if failed:
                raise PlivoMediaObjectError(failed)

        try:
            self._retrying(attempt, what=label, is_transient=_is_transient, retries=retries)
        except PlivoAuthenticationError:
            refused.set()
            raise
        except PlivoMediaObjectError as err:
            return uploaded, err.failures
        except PlivoError as err:
            return uploaded, {f.source: str(err) for f in chunk if f.source not in uploaded}
        return uploaded, {}

    def _post_media(self, files: list[MediaFile]) -> list[dict[str, Any]]:
        """One upload attempt for ``files`` (no retry); return Plivo's objects, one per file, in order.

        The body is streamed from the open files with a Content-Length, so memory does not grow
        with file size times concurrency; the files close as soon as the request is answered.
        """
        from contextlib import ExitStack, closing

        from requests_toolbelt import MultipartEncoder

        with ExitStack() as stack:
            body = MultipartEncoder(
                fields=[
                    (
                        "file",
                        (
                            file.name,
                            stack.enter_context(closing(file.open())),
                            media_content_type(file.name),
                        ),
                    )
                    for file in files
                ]
            )
            answer = self._request("POST", "Media/", data=body, headers={"Content-Type": body.content_type})
        objects = answer.get("objects")
        if not isinstance(objects, list) or len(objects) != len(files):
            count = len(objects) if isinstance(objects, list) else "no"
            raise PlivoResponseError(
                f"Plivo answered an upload of {len(files)} files with {count} media objects: "
                f"{_excerpt(json.dumps(answer))}"
            )
        return objects

    def get_media(self, media_id: str) -> dict[str, Any]:
        """Return Plivo's description of one uploaded media file."""
        return self._call("GET", f"Media/{media_id}/")

    def list_media(self) -> list[dict[str, Any]]:
        """Return every media file of the account, walking all of Plivo's pages."""
        media: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._call("GET", "Media/", params={"limit": MEDIA_PAGE_SIZE, "offset": offset})
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
            body = self._retrying(
                lambda: self._request("POST", "Message/", json=payload),
                what="send message",
                is_transient=_send_is_safe_to_retry,
            )
        except PlivoAPIError as err:
            if media_ids and 400 <= err.status_code < 500 and "media" in err.message.lower():
                raise PlivoUnknownMediaError(
                    status_code=err.status_code, message=err.message, endpoint=err.endpoint, api_id=err.api_id
                ) from err
            raise
        uuids = body.get("message_uuid")
        if not isinstance(uuids, list) or not uuids:
            raise PlivoResponseError(
                f"Plivo queued the message but returned no message UUIDs: {_excerpt(json.dumps(body))}"
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
        return self._call("GET", f"Message/{message_uuid}/")

    def delivery_outcome(
        self,
        message_uuids: Sequence[str],
        *,
        success_states: Collection[str],
        failure_states: Collection[str],
    ) -> DeliveryOutcome:
        """Fetch each message and judge where the set stands (used by the sensor and the trigger)."""
        messages = {uuid: self.get_message(uuid) for uuid in message_uuids}
        return delivery_outcome(messages, success_states=success_states, failure_states=failure_states)

    async def aload_connection(self) -> None:
        """Fetch the connection without blocking the event loop; the hook's calls then reuse it.

        Triggers call this first, then run the (blocking) API calls in a worker thread.
        """
        conn = await self.aget_connection(self.plivo_conn_id)
        self.__dict__["_account"] = PlivoAccount.from_connection(conn)

    # -- HTTP -------------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One request to ``/v1/Account/{auth_id}/{path}`` with retries; Plivo's JSON answer."""
        return self._retrying(
            lambda: self._request(method, path, **kwargs),
            what=f"{method} {path}",
            is_transient=_is_transient,
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """One attempt at a request; every failure is turned into a classified :class:`PlivoError`."""
        import requests
        from urllib3.exceptions import NewConnectionError

        endpoint = f"{method} {path}"
        timeout = self._account.timeout
        try:
            with self._rate_limiter.slot() if self._rate_limiter else nullcontext():
                response = self.session.request(
                    method, self._account.api_root + path, timeout=timeout, **kwargs
                )
        except requests.ConnectTimeout as err:
            raise PlivoConnectionError(
                f"{endpoint}: could not connect to {self._account.base_url} within {timeout:g} s",
                request_sent=False,
            ) from err
        except requests.Timeout as err:
            raise PlivoConnectionError(
                f"{endpoint}: Plivo did not answer within {timeout:g} s (connection extra 'timeout')",
                request_sent=True,
            ) from err
        except requests.ConnectionError as err:
            reason = getattr(err.args[0], "reason", err.args[0]) if err.args else err
            raise PlivoConnectionError(
                f"{endpoint}: connection to {self._account.base_url} failed: {reason}",
                request_sent=isinstance(reason, NewConnectionError) is False,
            ) from err
        return _parse_response(response, endpoint)

    def _retrying(
        self,
        fn: Callable[[], T],
        *,
        what: str,
        is_transient: Callable[[BaseException], bool],
        retries: list[str] | None = None,
    ) -> T:
        """Run ``fn`` until it succeeds, a permanent error comes, or the attempts run out."""
        from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

        backoff = wait_exponential_jitter(initial=self.retry_wait_initial, max=self.retry_wait_max)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            retry_after = getattr(exc, "retry_after", None)
            if retry_after is None:
                return float(backoff(state))
            return min(float(retry_after), RETRY_AFTER_MAX)

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            reason = _retry_reason(exc)
            if retries is not None:
                retries.append(reason)
            self.log.warning(
                "%s: attempt %d of %d failed (%s); retrying in %.1f s",
                what,
                state.attempt_number,
                self.retry_attempts,
                exc,
                state.upcoming_sleep,
            )

        retrying = Retrying(
            stop=stop_after_attempt(self.retry_attempts),
            wait=wait,
            retry=retry_if_exception(is_transient),
            before_sleep=log_retry,
            reraise=True,
        )
        return retrying(fn)


def _parse_response(response: requests.Response, endpoint: str) -> dict[str, Any]:
    """Plivo's JSON body, or the classified error its status and body describe."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if status >= 400:
        error = body.get("error") if isinstance(body, dict) else None
        message = (
            (error if isinstance(error, str) else json.dumps(error))
            if error
            else (
                f"{response.reason or 'error'}: {_excerpt(response.text)}"
                if response.text
                else response.reason
            )
        )
        details: dict[str, Any] = {
            "status_code": status,
            "message": message or "no message",
            "endpoint": endpoint,
            "api_id": body.get("api_id") if isinstance(body, dict) else None,
        }
        if status in (401, 403):
            raise PlivoAuthenticationError(**details)
        if status == 429 or status >= 500:
            raise PlivoRetryableAPIError(**details, retry_after=_retry_after(response))
        raise PlivoAPIError(**details)
    if not isinstance(body, dict):
        raise PlivoResponseError(
            f"{endpoint}: Plivo answered HTTP {status} with a body that is not its JSON: "
            f"{_excerpt(response.text)!r}"
        )
    return body


def _retry_after(response: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date), if Plivo sent one."""
    value = response.headers.get("Retry-After")
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


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, PlivoTransientError)


def _send_is_safe_to_retry(exc: BaseException) -> bool:
    """True only where Plivo surely did not act on a send: no connection, or 429/503."""
    if isinstance(exc, PlivoConnectionError):
        return not exc.request_sent
    return isinstance(exc, PlivoRetryableAPIError) and exc.status_code in (429, 503)


def _retry_reason(exc: BaseException | None) -> str:
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


def _count_reasons(reasons: list[str]) -> str:
    return ", ".join(f"{count} x {reason}" for reason, count in Counter(reasons).items())


def _media_record(file: MediaFile, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "file": file.source,
        "media_id": obj["media_id"],
        "media_url": obj.get("media_url") or obj.get("url"),
        "content_type": obj.get("content_type") or media_content_type(file.name),
        "size": obj.get("size"),
        "upload_time": obj.get("upload_time"),
        "file_name": obj.get("file_name") or file.name,
    }


def _object_failure(obj: dict[str, Any]) -> str:
    message = obj.get("error_message") or obj.get("error") or "no reason given"
    code = obj.get("error_code") or obj.get("status_code")
    return (
        f"Plivo reported status {obj.get('status')!r}" + (f" (code {code})" if code else "") + f": {message}"
    )


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _BODY_EXCERPT_CHARS else flat[:_BODY_EXCERPT_CHARS] + "..."
