"""Errors raised by the Plivo provider.

Every message carries Plivo's own words where Plivo gave any, and never a credential:
the Auth Token only ever travels in the Authorization header, which no error repeats.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.limits import MEDIA_EXPIRY_HOURS

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "PlivoAPIError",
    "PlivoAuthenticationError",
    "PlivoConnectionError",
    "PlivoError",
    "PlivoInterruptedError",
    "PlivoMediaFileBusyError",
    "PlivoMediaFileChangedError",
    "PlivoMediaFileError",
    "PlivoMediaObjectError",
    "PlivoMediaSourceError",
    "PlivoMediaUploadError",
    "PlivoMediaValidationError",
    "PlivoMessageValidationError",
    "PlivoReconciliationError",
    "PlivoResponseError",
    "PlivoRetryableAPIError",
    "PlivoTLSError",
    "PlivoTransientError",
    "PlivoUnknownMediaError",
    "PlivoValidationError",
    "error_from_event",
    "error_to_event",
]


class PlivoError(Exception):
    """Base class of every error this provider raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only arguments, which pickle's default (cls(*args)) cannot
        # replay; rebuild from the message and the attributes instead, so an error survives a
        # process pool, multiprocessing or a result backend that pickles.
        return _rebuild, (type(self), self.args, self.__dict__)


class PlivoTransientError(PlivoError):
    """A failure worth retrying: the same request may well succeed later."""

    retry_after: float | None = None


class PlivoConnectionError(PlivoTransientError):
    """The request did not complete: connection refused or reset, DNS failure, timeout.

    ``request_sent`` is False only when the request surely never reached Plivo
    (the connection could not be opened), which is what makes a non-idempotent call safe to retry.
    """

    def __init__(self, message: str, *, request_sent: bool) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class PlivoTLSError(PlivoError):
    """The server's TLS certificate could not be verified. Not transient: the same certificate
    fails every retry (a wrong host, an intercepting proxy, a missing CA bundle)."""


class PlivoInterruptedError(PlivoTransientError):
    """A request that was never sent because its task is stopping (Ctrl-C, SIGTERM, Airflow's
    ``execution_timeout``): surely not acted on, so a later try may send it."""


class PlivoResponseError(PlivoTransientError):
    """Plivo answered, but not with the JSON its API documents (an HTML error page, a cut body).

    Usually transient; ``retryable`` is False where the same answer would come again, or where
    taking it would be wrong whatever came next (an answer over the size limit, media objects
    that cannot be paired with the files sent).
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class PlivoAPIError(PlivoError):
    """Plivo answered with an HTTP error status; ``message`` is Plivo's own ``error`` text."""

    def __init__(
        self,
        *,
        status_code: int,
        message: str,
        endpoint: str,
        api_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status_code = status_code
        self.message = message
        self.endpoint = endpoint
        self.api_id = api_id
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = f"Plivo answered HTTP {self.status_code} to {self.endpoint}: {self.message}"
        return f"{text} (api_id {self.api_id})" if self.api_id else text


class PlivoRetryableAPIError(PlivoAPIError, PlivoTransientError):
    """HTTP 429 or 5xx: Plivo is busy or unwell, not refusing the request itself."""


class PlivoAuthenticationError(PlivoAPIError):
    """HTTP 401/403: the Auth ID or Auth Token is wrong. Retrying cannot help."""

    def _describe(self) -> str:
        return (
            f"Plivo authentication failed (HTTP {self.status_code} to {self.endpoint}): {self.message}. "
            "Check the Auth ID (login) and Auth Token (password) of the Plivo connection."
        )


class PlivoMediaObjectError(PlivoTransientError):
    """Plivo accepted the request but reported some of its files as failed."""

    def __init__(self, failures: Mapping[str, str]) -> None:
        self.failures = dict(failures)
        super().__init__(
            "Plivo reported failed files: " + "; ".join(f"{f}: {why}" for f, why in self.failures.items())
        )


class PlivoValidationError(PlivoError, ValueError):
    """Input Plivo would refuse; raised before any request is sent. ``problems`` names each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(self._headline() + "\n" + "\n".join(f"  - {p}" for p in self.problems))

    def _headline(self) -> str:
        return f"Invalid input for Plivo, nothing was sent ({len(self.problems)} problems):"


class PlivoMediaValidationError(PlivoValidationError):
    """Files that cannot be uploaded as they are."""

    def _headline(self) -> str:
        count = len(self.problems)
        return f"{count} media file{'s' if count != 1 else ''} cannot be uploaded to Plivo, nothing was sent:"


class PlivoMessageValidationError(PlivoValidationError):
    """A message Plivo would refuse."""

    def _headline(self) -> str:
        return "The message cannot be sent to Plivo, nothing was sent:"


class PlivoUnknownMediaError(PlivoAPIError):
    """Plivo does not know a media ID of the message, most likely because it expired."""

    def _describe(self) -> str:
        return (
            f"{super()._describe()}. Plivo deletes uploaded media that no message used within "
            f"{MEDIA_EXPIRY_HOURS} hours of upload: upload the files again in the same run as the send."
        )


class PlivoReconciliationError(PlivoError):
    """An earlier try's send may have reached some numbers, and Plivo's message list cannot prove
    whether it did: several messages could be ours, a masked number fits several of them, or the
    search ended before it could tell. Those numbers are not messaged again, which could message
    them twice, and nothing else is sent either. Not transient: every retry would find the same.

    ``numbers`` maps each number in doubt to why; the message says how to check them.
    """

    def __init__(self, message: str, *, numbers: Mapping[str, str]) -> None:
        self.numbers = dict(numbers)
        super().__init__(message)


class PlivoMediaUploadError(PlivoError):
    """Some files could not be uploaded; ``failures`` maps each to the reason.

    ``uploaded`` holds the records of the files that did upload, so the caller loses nothing.
    ``retryable`` says whether a later try may succeed (some failures were transient).
    """

    def __init__(
        self, failures: Mapping[str, str], uploaded: Sequence[Mapping[str, Any]], *, retryable: bool = True
    ) -> None:
        self.failures = dict(failures)
        self.uploaded = [dict(record) for record in uploaded]
        self.retryable = retryable
        total = len(self.failures) + len(self.uploaded)
        super().__init__(
            f"Could not upload {len(self.failures)} of {total} media files to Plivo:\n"
            + "\n".join(f"  - {path}: {why}" for path, why in self.failures.items())
        )


class PlivoMediaFileError(PlivoError):
    """One media file (or glob pattern) cannot be used: ``source`` names it as the user did,
    ``reason`` says why."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f"{self._where()}: {reason}")

    def _where(self) -> str:
        return self.source


class PlivoMediaSourceError(PlivoMediaFileError, OSError):
    """The object store could not say what a file (or a glob pattern) holds: access denied, the store
    could not be reached, or another store error, which is chained as ``__cause__``.

    The message names the Airflow connection (``conn_id``) the store was read through, since a
    wrong connection is the usual cause. An OSError, as the stores' own errors are.
    """

    def __init__(self, source: str, reason: str, *, conn_id: str | None) -> None:
        self.conn_id = conn_id
        super().__init__(source, reason)

    def _where(self) -> str:
        return (
            f"{self.source} (connection {self.conn_id})" if self.conn_id else f"{self.source} (no connection)"
        )


class PlivoMediaFileBusyError(PlivoMediaFileError, PlivoTransientError):
    """A media file could not be opened for now: the process or the system is out of file
    descriptors or memory (EMFILE, ENFILE, ENOMEM, EAGAIN). Transient: nothing is wrong with the
    file, and a later attempt, once other uploads have closed theirs, may well open it."""


class PlivoMediaFileChangedError(PlivoMediaFileError):
    """A file changed between validation and the last byte sent: deleted, shorter, longer, or unreadable.

    Not an OSError on purpose: ``requests`` wraps an OSError raised while it streams a body into
    a connection error, which would hide that the file, not the network, failed.
    """


def _rebuild(cls: type[PlivoError], args: tuple[Any, ...], state: dict[str, Any]) -> PlivoError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    err.__dict__.update(state)
    return err


def error_to_event(err: BaseException) -> dict[str, Any]:
    """``err`` as JSON a trigger event can carry, so that the task raises the same error:
    its class, message and attributes (those that are JSON). Any other exception travels as a
    :class:`PlivoError` naming its type."""
    if not isinstance(err, PlivoError):
        return {"class": "PlivoError", "args": [f"{type(err).__name__}: {err}"], "attributes": {}}
    attributes = {}
    for name, value in err.__dict__.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        attributes[name] = value
    return {"class": type(err).__name__, "args": [str(arg) for arg in err.args], "attributes": attributes}


def error_from_event(data: dict[str, Any]) -> PlivoError:
    """The error :func:`error_to_event` described (only this module's classes are rebuilt)."""
    cls = getattr(sys.modules[__name__], str(data.get("class")), None)
    if not (isinstance(cls, type) and issubclass(cls, PlivoError)):
        cls = PlivoError
    return _rebuild(cls, tuple(data.get("args") or ()), dict(data.get("attributes") or {}))
