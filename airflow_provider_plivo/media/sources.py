"""Where media files come from: local paths, glob patterns, ``file://`` URIs, and any Airflow
object storage (``s3://``, ``gs://``...) through :class:`airflow.sdk.ObjectStoragePath`.

Object storage is read through its own metadata (size, type) for validation and streamed for
upload: nothing is copied to local disk first. Whatever the store, a file is validated once, and
what is sent is exactly what was validated, or an error that says how the file changed.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import re
import stat
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

from airflow_provider_plivo.exceptions import (
    PlivoMediaFileBusyError,
    PlivoMediaFileChangedError,
    PlivoMediaFileError,
    PlivoMediaSourceError,
    PlivoMediaValidationError,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

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
    "first_spellings",
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
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN}
"""Why an open may fail for now and succeed later: the process or the system is out of file
descriptors or memory (many uploads at once), not anything about the file."""
_OPEN_FLAGS = (
    os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
)
"""O_NONBLOCK: a FIFO swapped in after validation would block ``open()`` until a writer comes
(forever, and Ctrl-C cannot end a blocked open); with it, open returns at once and fstat tells
what was opened. It changes nothing for the regular files read here. O_NOCTTY: a terminal device
opened by mistake must not become the worker's controlling terminal."""
_MD5_ETAG = re.compile(r'"?([0-9a-fA-F]{32})"?')
"""An ETag that is the MD5 of the object's bytes (S3 and most stores, for an object written in one
part); a multipart upload's ETag ends in ``-N`` and is not the MD5 of the bytes."""
T = TypeVar("T")


@dataclass(frozen=True)
class FileInfo:
    """What validation and resumption need to know of a file."""

    is_file: bool
    size: int
    fingerprint: str
    """Changes when the file's content may have: for a local file its size, modification time (ns),
    device and inode (so that a file renamed over it, even of the same size and time, differs);
    for an object its size and ETag (or modification time where the store has no ETag)."""
    md5: str | None = None
    """The MD5 of the object's bytes where its store says it (an ETag that is an MD5), checked
    against the bytes streamed."""


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
    def identity(self) -> str:
        """What makes two entries the same file, however they were spelled (relative, absolute,
        through a symlink, as ``file://``, with ``..``): the resolved path; for an object, its
        store, connection and key. A path that cannot be resolved (it holds a NUL byte) is its
        own identity: validation names its problem."""
        if self._remote is not None:
            return f"{self._remote.protocol}://{self._remote.path} ({_conn_id(self._remote)})"
        try:
            return os.path.normcase(os.path.realpath(self._local_path))
        except (OSError, ValueError):
            return self.source

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
            return FileInfo(stat.S_ISREG(local.st_mode), local.st_size, _local_fingerprint(local))
        try:
            meta = dict(self._remote.stat())
        except FileNotFoundError:
            raise
        except Exception as err:  # fsspec back ends raise their own types; name the cause
            raise _source_error(self._remote, err) from err
        size = int(meta.get("size") or 0)
        return FileInfo(meta.get("type") == "file", size, _store_fingerprint(meta), _md5_of(meta))

    def readable(self) -> bool:
        return self._remote is not None or os.access(self._local_path, os.R_OK)

    def open(self) -> MediaStream:
        """Open for streaming exactly the validated bytes (the caller closes it).

        A local file is opened without blocking and must still be the regular file validated
        (same size, modification time and inode); an object must still have its ETag. The stream
        checks the same again after its last byte, and an object's MD5 where its ETag is one.

        :raises PlivoMediaFileChangedError: the file is gone, cannot be read, is no longer a
            regular file, or is no longer the file validated.
        :raises PlivoMediaFileBusyError: out of file descriptors or memory for now (transient).
        """
        info = self.info()
        try:
            if self._remote is None:
                raw: Any = self._open_local(info)
                end_check = partial(self._still_local, raw, info)
            else:
                raw = self._remote.open("rb")  # type: ignore[no-untyped-call]
                end_check = None
                self._check_object(raw, info)
        except PlivoMediaFileError:
            raise
        except Exception as err:
            if isinstance(err, OSError) and err.errno in _OUT_OF_RESOURCES:
                raise PlivoMediaFileBusyError(
                    self.source, f"could not be opened for now ({err.strerror})"
                ) from err
            raise PlivoMediaFileChangedError(self.source, _change_of(err)) from err
        return MediaStream(raw, self.source, info.size, md5=info.md5, end_check=end_check)

    def _open_local(self, info: FileInfo) -> Any:
        fd = os.open(self._local_path, _OPEN_FLAGS)
        try:
            now = os.fstat(fd)
            if not stat.S_ISREG(now.st_mode):
                raise PlivoMediaFileChangedError(
                    self.source, f"not a regular file (now {_file_kind(now.st_mode)}, after validation)"
                )
            self._check_local(now, info)
            return open(fd, "rb", closefd=True)
        except BaseException:
            os.close(fd)
            raise

    def _check_local(self, now: os.stat_result, info: FileInfo) -> None:
        if now.st_size != info.size:
            raise PlivoMediaFileChangedError(
                self.source,
                f"{'grew' if now.st_size > info.size else 'shrank'} after validation: now "
                f"{now.st_size:,} bytes, validated as {info.size:,}",
            )
        if _local_fingerprint(now) != info.fingerprint:
            raise PlivoMediaFileChangedError(
                self.source, "replaced or rewritten after validation (its modification time or inode changed)"
            )

    def _still_local(self, raw: Any, info: FileInfo) -> None:
        """After the last byte: the file open is still the one validated (nothing wrote to it)."""
        self._check_local(os.fstat(raw.fileno()), info)

    def _check_object(self, raw: Any, info: FileInfo) -> None:
        now = getattr(raw, "size", None)  # fsspec files know the size they found at open
        if now is not None and now != info.size:
            raw.close()
            raise PlivoMediaFileChangedError(
                self.source,
                f"{'grew' if now > info.size else 'shrank'} after validation: now {now:,} bytes, "
                f"validated as {info.size:,}",
            )
        details = getattr(raw, "details", None)
        if isinstance(details, dict) and _store_fingerprint(details) != info.fingerprint:
            raw.close()
            raise PlivoMediaFileChangedError(self.source, "replaced after validation (its ETag changed)")

    def __repr__(self) -> str:
        return f"MediaFile({self.source!r})"


class MediaStream:
    """A file open for upload that delivers exactly its validated size and reports ``len``, the
    bytes it has left (what an upload body sizes a part by).

    Ending early, holding more bytes, failing to read, or (after the last byte) no longer being
    the file validated raises :class:`~airflow_provider_plivo.exceptions.PlivoMediaFileChangedError`
    before that last block is handed on: a part must never carry other bytes than those validated,
    and a body cut short is one Plivo stores nothing of.
    """

    def __init__(
        self,
        raw: Any,
        source: str,
        size: int,
        *,
        md5: str | None = None,
        end_check: Callable[[], None] | None = None,
    ) -> None:
        self._raw = raw
        self._source = source
        self._size = size
        self._left = size
        self._md5 = md5
        # Hashed as the bytes go by (no second read), only where there is an MD5 to compare with.
        self._hash = hashlib.md5(usedforsecurity=False) if md5 else None
        self._end_check = end_check

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
        if self._hash is not None:
            self._hash.update(data)
        if self._left == 0:
            self._at_end()
        return data

    def _at_end(self) -> None:
        if self._read(1):
            raise PlivoMediaFileChangedError(
                self._source, f"grew after validation: more than the {self._size:,} bytes validated"
            )
        if self._hash is not None and self._hash.hexdigest() != self._md5:
            raise PlivoMediaFileChangedError(
                self._source, "changed after validation: its bytes no longer match its ETag (MD5)"
            )
        if self._end_check is not None:
            try:
                self._end_check()
            except PlivoMediaFileError:
                raise
            except OSError as err:
                raise PlivoMediaFileChangedError(self._source, _change_of(err)) from err

    def _read(self, amount: int) -> bytes:
        try:
            data: bytes = self._raw.read(amount)
        except Exception as err:
            raise PlivoMediaFileChangedError(self._source, _change_of(err)) from err
        return data or b""

    def close(self) -> None:
        self._raw.close()


def _local_fingerprint(local: os.stat_result) -> str:
    return f"{local.st_size}:{local.st_mtime_ns}:{local.st_dev}:{local.st_ino}"


def _store_fingerprint(meta: Mapping[str, Any]) -> str:
    version = meta.get("ETag") or meta.get("etag") or meta.get("mtime") or meta.get("LastModified") or ""
    return f"{int(meta.get('size') or 0)}:{version}"


def _md5_of(meta: Mapping[str, Any]) -> str | None:
    match = _MD5_ETAG.fullmatch(str(meta.get("ETag") or meta.get("etag") or ""))
    return match.group(1).lower() if match else None


def _file_kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a character device"}
    kinds.update({stat.S_ISBLK: "a block device", stat.S_ISSOCK: "a socket"})
    return next((kind for test, kind in kinds.items() if test(mode)), "not a file")


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

    :raises PlivoMediaValidationError: naming every pattern whose folder or store could not be
        listed (a folder the worker may not read would otherwise look empty).
    """
    files: list[MediaFile] = []
    failures: list[PlivoMediaFileError] = []
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
        # A NUL byte can be in no name: as a pattern it would match nothing, silently; as one
        # file, validation names it among the other problems.
        if "\0" in pattern or (not forced and not any(magic in pattern for magic in _GLOB_MAGIC)):
            files.append(media_file(pattern))
            continue
        try:
            matches = _expand(pattern, forced=forced)
        except PlivoMediaFileError as err:
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
        _check_listable(pattern, local)
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


def _check_listable(pattern: str, local: str) -> None:
    """Raise, naming the folder, where the folders ``local`` would be matched in cannot be listed:
    :func:`glob.glob` skips such a folder silently, and a folder the worker may not read would
    pass for one that holds no file."""
    for folder in _folders_to_list(local):
        try:
            with os.scandir(folder):
                pass
        except (FileNotFoundError, NotADirectoryError):
            continue
        except PermissionError as err:
            raise PlivoMediaFileError(
                pattern, f"permission denied listing folder {err.filename or folder}"
            ) from err
        except OSError as err:
            raise PlivoMediaFileError(
                pattern, f"folder {folder} cannot be listed ({err.strerror or err})"
            ) from err


def _folders_to_list(local: str) -> list[str]:
    """The folders a glob of ``local`` lists for its last part: its folder, or every folder its
    folder pattern matches (checked first, so that a folder skipped higher up is named too)."""
    head = os.path.dirname(local) or os.curdir
    if not glob.has_magic(head):
        return [head]
    _check_listable(head, head)
    return glob.glob(head)


def _object_exists(path: ObjectStoragePath) -> bool:
    try:
        return bool(path.fs.info(path.path).get("type") == "file")
    except FileNotFoundError:
        return False


def first_spellings(files: Sequence[MediaFile]) -> dict[str, str]:
    """Each file's ``source`` -> the ``source`` of the first of ``files`` that is the same file
    (:attr:`MediaFile.identity`): one file named five ways is one file."""
    first: dict[str, str] = {}
    spellings: dict[str, str] = {}
    for file in files:  # each identity once: a local one resolves every part of the path
        spellings[file.source] = first.setdefault(file.identity, file.source)
    return spellings


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
