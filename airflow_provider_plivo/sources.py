"""Where media files come from: local paths, glob patterns, ``file://`` URIs, and any Airflow
object storage (``s3://``, ``gs://``...) through :class:`airflow.sdk.ObjectStoragePath`.

Object storage is read through its own metadata (size, type) for validation and streamed for
upload: nothing is copied to local disk first.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, TypeGuard, TypeVar
from urllib.parse import unquote, urlsplit

from airflow_provider_plivo.exceptions import PlivoError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow.sdk import ObjectStoragePath

_GLOB_MAGIC = ("*", "?", "[")
T = TypeVar("T")


@dataclass(frozen=True)
class FileInfo:
    """What validation and resumption need to know of a file."""

    is_file: bool
    size: int
    fingerprint: str
    """Changes when the file's content may have: size with modification time or ETag."""


class MediaFile:
    """One file to upload: ``source`` is how the user named it (a path or a URI)."""

    def __init__(
        self, source: str, *, local_path: str | None = None, remote: ObjectStoragePath | None = None
    ) -> None:
        self.source = source
        self._local_path = local_path
        self._remote = remote
        self._info: FileInfo | None = None

    @property
    def name(self) -> str:
        """The file's base name, sent to Plivo as the part's filename."""
        if self._remote is not None:
            return str(self._remote.name)
        return os.path.basename(self._local_path or self.source)

    @property
    def is_local(self) -> bool:
        return self._remote is None

    def info(self) -> FileInfo:
        """Stat the file once (locally, or from the store's metadata); raises OSError if it is gone.

        Validation, streaming and resumption then agree on one view of the file."""
        if self._info is None:
            self._info = self._stat()
        return self._info

    def _stat(self) -> FileInfo:
        if self._remote is None:
            local = os.stat(self._local_path or self.source)
            is_file = (local.st_mode & 0o170000) == 0o100000
            return FileInfo(is_file, local.st_size, f"{local.st_size}:{local.st_mtime_ns}")
        try:
            meta = dict(self._remote.stat())
        except FileNotFoundError:
            raise
        except Exception as err:  # fsspec back ends raise their own types for missing keys
            raise FileNotFoundError(str(err)) from err
        size = int(meta.get("size") or 0)
        version = meta.get("ETag") or meta.get("etag") or meta.get("mtime") or meta.get("LastModified") or ""
        return FileInfo(meta.get("type") == "file", size, f"{size}:{version}")

    def readable(self) -> bool:
        return self._remote is not None or os.access(self._local_path or self.source, os.R_OK)

    def open(self) -> BinaryIO | _SizedStream:
        """Open for streaming (the caller closes it); a remote stream reports the bytes it has left."""
        if self._remote is None:
            return open(self._local_path or self.source, "rb")
        raw = self._remote.open("rb")  # type: ignore[no-untyped-call]
        return _SizedStream(raw, self.info().size, self.source)

    def __repr__(self) -> str:
        return f"MediaFile({self.source!r})"


class _SizedStream:
    """A remote file that tells requests-toolbelt how many bytes it has left (``len``)."""

    def __init__(self, raw: Any, size: int, source: str) -> None:
        self._raw = raw
        self._left = size
        self._source = source

    @property
    def len(self) -> int:
        return self._left

    def read(self, amount: int = -1) -> bytes:
        data: bytes = self._raw.read(self._left if amount is None or amount < 0 else min(amount, self._left))
        if not data and self._left:
            raise PlivoError(
                f"{self._source}: the file ended {self._left:,} bytes early; it changed during upload"
            )
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._raw.close()


def _is_object_storage_path(value: Any) -> bool:
    """An ObjectStoragePath (or another universal path): it knows its protocol, and must not be
    turned into a string, which would lose its connection."""
    return hasattr(value, "protocol")


def _names_a_local_path(value: Any) -> TypeGuard[str | os.PathLike[str]]:
    return isinstance(value, (str, os.PathLike)) and not _is_object_storage_path(value)


def media_file(entry: str | os.PathLike[str] | ObjectStoragePath | MediaFile) -> MediaFile:
    """One file from a path, a ``file://`` URI, an object storage URI or an ObjectStoragePath."""
    if isinstance(entry, MediaFile):
        return entry
    if not _names_a_local_path(entry):
        return MediaFile(str(entry), remote=entry)  # type: ignore[arg-type]
    source = os.fspath(entry)
    scheme = urlsplit(source).scheme if "://" in source else ""
    if not scheme:
        return MediaFile(source, local_path=source)
    if scheme == "file":
        return MediaFile(source, local_path=unquote(urlsplit(source).path))
    from airflow.sdk import ObjectStoragePath

    return MediaFile(source, remote=ObjectStoragePath(source))


def media_entries(value: Any) -> list[Any]:
    """A rendered ``files`` argument as a list: ObjectStoragePath objects kept, the rest as strings."""
    from airflow_provider_plivo.utils.templating import string_list

    if _is_object_storage_path(value):
        return [value]
    if isinstance(value, (list, tuple)) and any(_is_object_storage_path(item) for item in value):
        return [
            item if _is_object_storage_path(item) else string_list(item, argument="files")[0]
            for item in value
        ]
    return string_list(value, argument="files")


def expand_media_entries(
    entries: Sequence[str | os.PathLike[str] | ObjectStoragePath],
    *,
    on_empty_glob: Callable[[str], None] | None = None,
) -> list[MediaFile]:
    """Each entry as the files it names: a glob pattern as its matches, sorted; anything else as is.

    A pattern that matches nothing names no file (``on_empty_glob`` hears of it): a scheduled
    batch is often empty.
    """
    files: list[MediaFile] = []
    for entry in entries:
        source = os.fspath(entry) if _names_a_local_path(entry) else ""
        if not source or not any(magic in source for magic in _GLOB_MAGIC):
            files.append(media_file(entry))
            continue
        matches = _glob(source)
        if not matches and on_empty_glob is not None:
            on_empty_glob(source)
        files.extend(matches)
    return files


def _glob(pattern: str) -> list[MediaFile]:
    scheme = urlsplit(pattern).scheme if "://" in pattern else ""
    if not scheme:
        return [MediaFile(p, local_path=p) for p in sorted(glob.glob(pattern)) if os.path.isfile(p)]
    if scheme == "file":
        local = unquote(urlsplit(pattern).path)
        return [MediaFile(f"file://{p}", local_path=p) for p in sorted(glob.glob(local)) if os.path.isfile(p)]
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_plivo.version_compat import object_storage_conn_id

    store = ObjectStoragePath(pattern)
    conn_id = object_storage_conn_id(store)
    matches = sorted(store.fs.glob(store.path, detail=True).items())
    return [
        MediaFile(f"{scheme}://{path}", remote=ObjectStoragePath(f"{scheme}://{path}", conn_id=conn_id))
        for path, meta in matches
        if meta.get("type") == "file"
    ]


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
    if isinstance(value, (str, os.PathLike)) or _is_object_storage_path(value):
        return [media_file(value)]  # type: ignore[arg-type]
    return [media_file(entry) for entry in value]  # type: ignore[union-attr]
