"""Where media files come from: local paths, glob patterns, ``file://`` URIs, and any Airflow
object storage (``s3://``, ``gs://``...) through :class:`airflow.sdk.ObjectStoragePath`.

Object storage is read through its own metadata (size, type) for validation and streamed for
upload: nothing is copied to local disk first. Whatever the store, a file is validated once, and
what is sent is exactly what was validated, or an error that says how the file changed.
"""

from __future__ import annotations

import errno
import glob
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

from airflow_provider_plivo.exceptions import (
    PlivoMediaFileChangedError,
    PlivoMediaSourceError,
    PlivoMediaValidationError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow.sdk import ObjectStoragePath
    from typing_extensions import TypeIs

__all__ = [
    "FORCE_GLOB",
    "FORCE_LITERAL",
    "FileInfo",
    "MediaFile",
    "MediaStream",
    "could_not_connect",
    "expand_media_entries",
    "is_object_storage_path",
    "media_batches",
    "media_file",
    "media_files",
    "store_failure",
]

_GLOB_MAGIC = ("*", "?", "[")
FORCE_GLOB = "glob:"
"""An entry starting with this is a glob pattern, even where a file of that name exists."""
FORCE_LITERAL = "literal:"
"""An entry starting with this is one file, even where it does not exist and looks like a pattern."""
_UNREACHABLE = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT}
T = TypeVar("T")


@dataclass(frozen=True)
class FileInfo:
    """What validation and resumption need to know of a file."""

    is_file: bool
    size: int
    fingerprint: str
    """Changes when the file's content may have: size with modification time or ETag."""


class MediaFile:
    """One file to upload: ``source`` is how it is recorded (the ``file`` of its XCom record).

    That is the path or URI as the user wrote it; for an ObjectStoragePath or a glob match, the
    object's URI without a connection (``s3://bucket/key``).
    """

    def __init__(
        self, source: str, *, local_path: str | None = None, remote: ObjectStoragePath | None = None
    ) -> None:
        self.source = source
        self._local_path = local_path or source
        self._remote = remote
        self._info: FileInfo | None = None

    @property
    def name(self) -> str:
        """The file's base name, sent to Plivo as the part's filename."""
        if self._remote is not None:
            return str(self._remote.name)
        return os.path.basename(self._local_path)

    @property
    def store(self) -> tuple[str, str | None] | None:
        """The object store and connection the file is read through; None for a local file."""
        if self._remote is None:
            return None
        return self._remote.protocol, _conn_id(self._remote)

    def dataset(self) -> tuple[str, str]:
        """OpenLineage's (namespace, name) for the file: ``file`` and its absolute path, or the
        bucket (``s3://bucket``) and key, whichever way the object was named and whatever connection."""
        if self._remote is None:
            return "file", os.path.abspath(self._local_path)
        bucket, _, key = self._remote.path.partition("/")
        return f"{self._remote.protocol}://{bucket}", key

    def info(self) -> FileInfo:
        """Stat the file once (locally, or from the store's metadata); validation, streaming and
        resumption then agree on one view of the file.

        :raises FileNotFoundError: the file does not exist.
        :raises PlivoMediaSourceError: the store refused, could not be reached, or failed otherwise.
        :raises OSError: a local file cannot be read.
        """
        if self._info is None:
            self._info = self._stat()
        return self._info

    def _stat(self) -> FileInfo:
        if self._remote is None:
            local = os.stat(self._local_path)
            is_file = (local.st_mode & 0o170000) == 0o100000
            return FileInfo(is_file, local.st_size, f"{local.st_size}:{local.st_mtime_ns}")
        try:
            meta = dict(self._remote.stat())
        except FileNotFoundError:
            raise
        except Exception as err:  # fsspec back ends raise their own types; name the cause
            raise _source_error(self._remote, err) from err
        size = int(meta.get("size") or 0)
        version = meta.get("ETag") or meta.get("etag") or meta.get("mtime") or meta.get("LastModified") or ""
        return FileInfo(meta.get("type") == "file", size, f"{size}:{version}")

    def readable(self) -> bool:
        return self._remote is not None or os.access(self._local_path, os.R_OK)

    def open(self) -> MediaStream:
        """Open for streaming exactly the validated bytes (the caller closes it).

        :raises PlivoMediaFileChangedError: the file is gone, cannot be read, or is no longer the
            size validated.
        """
        size = self.info().size
        try:
            if self._remote is None:
                raw: Any = open(self._local_path, "rb")  # noqa: SIM115 - MediaStream closes it
                now: int | None = os.fstat(raw.fileno()).st_size
            else:
                raw = self._remote.open("rb")  # type: ignore[no-untyped-call]
                now = getattr(raw, "size", None)  # fsspec files know the size they found at open
        except Exception as err:
            raise PlivoMediaFileChangedError(self.source, _change_of(err)) from err
        if now is not None and now != size:
            raw.close()
            raise PlivoMediaFileChangedError(
                self.source,
                f"{'grew' if now > size else 'shrank'} after validation: now {now:,} bytes, "
                f"validated as {size:,}",
            )
        return MediaStream(raw, self.source, size)

    def __repr__(self) -> str:
        return f"MediaFile({self.source!r})"


class MediaStream:
    """A file open for upload that delivers exactly its validated size and reports ``len``, the
    bytes it has left (what an upload body sizes a part by).

    Ending early, holding more bytes, or failing to read raises
    :class:`~airflow_provider_plivo.exceptions.PlivoMediaFileChangedError`: a part must never
    carry other bytes than its declared length.
    """

    def __init__(self, raw: Any, source: str, size: int) -> None:
        self._raw = raw
        self._source = source
        self._size = size
        self._left = size

    @property
    def len(self) -> int:
        return self._left

    def read(self, amount: int = -1) -> bytes:
        wanted = self._left if amount < 0 else min(amount, self._left)
        if wanted == 0:
            return b""
        data = self._read(wanted)
        self._left -= len(data)
        if len(data) < wanted:
            raise PlivoMediaFileChangedError(
                self._source,
                f"shrank after validation: ended after {self._size - self._left:,} of {self._size:,} bytes",
            )
        if self._left == 0 and self._read(1):
            raise PlivoMediaFileChangedError(
                self._source, f"grew after validation: more than the {self._size:,} bytes validated"
            )
        return data

    def _read(self, amount: int) -> bytes:
        try:
            data: bytes = self._raw.read(amount)
        except Exception as err:
            raise PlivoMediaFileChangedError(self._source, _change_of(err)) from err
        return data

    def close(self) -> None:
        self._raw.close()


def store_failure(err: BaseException) -> str:
    """What went wrong reading an object store, in words. Classified by exception type, since
    every fsspec back end raises its own: a missing file, access denied, no connection, or else."""
    if isinstance(err, FileNotFoundError):
        return "no such file"
    if isinstance(err, PermissionError):
        return f"access denied ({err})"
    if could_not_connect(err):
        return f"could not connect ({err})"
    return f"could not be read: {type(err).__name__}: {err}"


def could_not_connect(err: BaseException | None) -> bool:
    """Whether ``err`` (or what it was raised from) says the store could not be reached: a
    ConnectionError of any library (botocore's EndpointConnectionError, aiohttp's
    ClientConnectorError, requests'...) or an OSError such as ECONNREFUSED."""
    while err is not None:
        if isinstance(err, OSError) and err.errno in _UNREACHABLE:
            return True
        if any(cls.__name__.endswith(("ConnectionError", "ConnectorError")) for cls in type(err).__mro__):
            return True
        err = err.__cause__ or err.__context__
    return False


def _change_of(err: Exception) -> str:
    """How a file that passed validation failed to open or read."""
    return "deleted after validation" if isinstance(err, FileNotFoundError) else store_failure(err)


def _conn_id(path: ObjectStoragePath) -> str | None:
    from airflow_provider_plivo.version_compat import object_storage_conn_id

    return object_storage_conn_id(path)


def _object_uri(path: ObjectStoragePath) -> str:
    """The object's URI without its connection: ``s3://bucket/key``."""
    return f"{path.protocol}://{path.path}"


def _source_error(path: ObjectStoragePath, err: BaseException) -> PlivoMediaSourceError:
    return PlivoMediaSourceError(_object_uri(path), store_failure(err), conn_id=_conn_id(path))


def is_object_storage_path(value: object) -> TypeIs[ObjectStoragePath]:
    """An ObjectStoragePath (or another universal path): it knows its protocol, and must not be
    turned into a string, which would lose its connection."""
    return hasattr(value, "protocol")


def _scheme(source: str) -> str:
    return urlsplit(source).scheme if "://" in source else ""


def _local_path_of(uri: str) -> str:
    """The path of a ``file://`` URI. A ``?`` or ``#`` is part of the name: files have no query."""
    _host, slash, path = uri.removeprefix("file://").partition("/")
    return unquote(slash + path)


def media_file(entry: str | os.PathLike[str] | ObjectStoragePath | MediaFile) -> MediaFile:
    """One file from a path, a ``file://`` URI, an object storage URI or an ObjectStoragePath."""
    if isinstance(entry, MediaFile):
        return entry
    if is_object_storage_path(entry):
        if entry.protocol == "file":
            return MediaFile(_object_uri(entry), local_path=entry.path)
        return MediaFile(_object_uri(entry), remote=entry)
    source = os.fspath(entry)
    scheme = _scheme(source)
    if not scheme:
        return MediaFile(source)
    if scheme == "file":
        return MediaFile(source, local_path=_local_path_of(source))
    from airflow.sdk import ObjectStoragePath

    return MediaFile(source, remote=ObjectStoragePath(source))


def expand_media_entries(
    entries: Sequence[str | os.PathLike[str] | ObjectStoragePath],
    *,
    on_empty_glob: Callable[[str], None] | None = None,
) -> list[MediaFile]:
    """Each entry as the files it names: a glob pattern as its matches, sorted; anything else as is.

    An entry that names an existing file is that file, whatever characters its name holds
    (``photo[1].jpg``); only one that does not, and holds ``*``, ``?`` or ``[``, is a pattern.
    ``glob:`` before an entry makes it a pattern regardless, ``literal:`` one file regardless.
    A pattern that matches nothing names no file (``on_empty_glob`` hears of it): a scheduled
    batch is often empty.

    :raises PlivoMediaValidationError: naming every pattern whose store could not be listed.
    """
    files: list[MediaFile] = []
    failures: list[PlivoMediaSourceError] = []
    for entry in entries:
        if is_object_storage_path(entry):
            files.append(media_file(entry))
            continue
        source = os.fspath(entry)
        if source.startswith(FORCE_LITERAL):
            files.append(media_file(source.removeprefix(FORCE_LITERAL)))
            continue
        forced = source.startswith(FORCE_GLOB)
        pattern = source.removeprefix(FORCE_GLOB)
        if not forced and not any(magic in pattern for magic in _GLOB_MAGIC):
            files.append(media_file(pattern))
            continue
        try:
            matches = _expand(pattern, forced=forced)
        except PlivoMediaSourceError as err:
            failures.append(err)
            continue
        if not matches and on_empty_glob is not None:
            on_empty_glob(pattern)
        files.extend(matches)
    if failures:
        raise PlivoMediaValidationError([str(err) for err in failures]) from failures[0]
    return files


def _expand(pattern: str, *, forced: bool) -> list[MediaFile]:
    """The files ``pattern`` matches, sorted; or, unless ``forced``, the file it names if that exists."""
    scheme = _scheme(pattern)
    if scheme in ("", "file"):
        local = _local_path_of(pattern) if scheme else pattern
        if not forced and os.path.exists(local):
            return [MediaFile(pattern, local_path=local)]
        prefix = "file://" if scheme else ""
        return [
            MediaFile(prefix + path, local_path=path)
            for path in sorted(glob.glob(local))
            if os.path.isfile(path)
        ]
    from airflow.sdk import ObjectStoragePath

    store = ObjectStoragePath(pattern)
    conn_id = _conn_id(store)
    try:
        if not forced and _object_exists(store):
            return [MediaFile(pattern, remote=store)]
        matches = sorted(store.fs.glob(store.path, detail=True).items())
    except Exception as err:  # a store that cannot be listed: name the pattern and the connection
        raise _source_error(store, err) from err
    return [
        media_file(ObjectStoragePath(f"{scheme}://{path}", conn_id=conn_id))
        for path, meta in matches
        if meta.get("type") == "file"
    ]


def _object_exists(path: ObjectStoragePath) -> bool:
    try:
        return bool(path.fs.info(path.path).get("type") == "file")
    except FileNotFoundError:
        return False


def media_batches(files: Sequence[T], batch_size: int) -> list[list[T]]:
    """Split a large list of files into batches, one per mapped task instance::

        PlivoMediaUploadOperator.partial(task_id="upload").expand(files=media_batches(files, 500))

    Each mapped instance uploads, retries and resumes on its own.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    return [list(files[i : i + batch_size]) for i in range(0, len(files), batch_size)]


def media_files(
    value: str
    | os.PathLike[str]
    | ObjectStoragePath
    | Sequence[str | os.PathLike[str] | ObjectStoragePath | MediaFile],
) -> list[MediaFile]:
    """The files a hook caller named: one path, URI or ObjectStoragePath is a list of one (never
    of characters), a sequence is its items."""
    if isinstance(value, (str, os.PathLike)) or is_object_storage_path(value):
        return [media_file(value)]
    return [media_file(entry) for entry in value]
