"""What Plivo accepts as MMS media, and the checks run on every file before an upload."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from airflow_provider_plivo.exceptions import PlivoMediaSourceError, PlivoMediaValidationError
from airflow_provider_plivo.limits import MAX_MEDIA_FILE_SIZE
from airflow_provider_plivo.media.sources import could_not_connect, media_file

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_plivo.media.sources import MediaFile

__all__ = [
    "MMS_MEDIA_TYPES",
    "UPLOAD_MEDIA_TYPES",
    "media_content_type",
    "media_file_problem",
    "validate_media_files",
]

MMS_MEDIA_TYPES: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".mp4": "video/mp4",
    ".3gp": "video/3gpp",
    ".mov": "video/quicktime",
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".amr": "audio/amr",
    ".ogg": "audio/ogg",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".vcf": "text/vcard",
    ".csv": "text/csv",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
"""File extension (lower case) -> IANA media type, for every type Plivo's MMS pages list for
sending. More than Plivo takes as an upload (:data:`UPLOAD_MEDIA_TYPES`): the rest can be sent
from a server of your own with ``media_urls``."""

UPLOAD_MEDIA_TYPES: dict[str, str] = {
    ext: MMS_MEDIA_TYPES[ext] for ext in (".jpg", ".jpeg", ".png", ".gif", ".mp4", ".pdf", ".txt")
}
"""The types checked before an upload (``POST Media/``): those Plivo's media object page lists,
"JPG, PNG, MP4, GIF, PDF, text".

Plivo's documents disagree, and we hold to the narrowest list that is not contradicted by what
Plivo did: the MMS pages list audio, more video, vCard, CSV and spreadsheets for sending; the
official Python SDK's own extension table took GIF, MP3, WAV, OGG, 3GPP, vCard, CSV and
spreadsheets from 4.59.2 (August 2025); yet the same month its issue #295 shows Plivo's API
refusing a WAV upload with HTTP 400 "File format of the file to be uploaded should be one of
JPG, JPEG, PNG or PDF", a text that in turn names neither GIF and MP4 (on the media page) nor
MPEG (which that report saw accepted). A type Plivo refuses fails its whole upload request,
up to 9 other files with it, so such a file is refused here, by name, before anything is sent.
"""


def media_content_type(path: str) -> str | None:
    """The IANA media type of ``path`` by its extension, for any type Plivo MMS carries
    (:data:`MMS_MEDIA_TYPES`), or None when it carries none."""
    return MMS_MEDIA_TYPES.get(os.path.splitext(path)[1].lower())


def media_file_problem(file: MediaFile, *, max_file_size: int = MAX_MEDIA_FILE_SIZE) -> str | None:
    """Why ``file`` cannot be uploaded to Plivo, in a sentence that names it; None when it can.

    :raises PlivoMediaSourceError: its object store could not say (access denied, unreachable...).
    """
    if "\0" in file.source:
        # No file name can hold one: os.stat would raise a bare ValueError, hiding every other
        # file's problem; repr shows where the NUL is.
        return f"{file.source!r}: the path holds a NUL byte, which no file name can"
    ext = os.path.splitext(file.name)[1]
    if ext.lower() not in UPLOAD_MEDIA_TYPES:
        accepted = ", ".join(UPLOAD_MEDIA_TYPES)
        if ext.lower() in MMS_MEDIA_TYPES:
            return (
                f"{file.source}: type {ext!r} is not accepted by Plivo's media upload (accepted: "
                f"{accepted}); MMS can still carry it from a server of your own with media_urls"
            )
        return f"{file.source}: type {ext or 'no extension'!r} is not accepted for MMS (accepted: {accepted})"
    try:
        info = file.info()
    except FileNotFoundError:
        return f"{file.source}: no such file"
    except PlivoMediaSourceError:
        raise
    except PermissionError:
        return f"{file.source}: permission denied (the worker may not read it or a folder on its path)"
    except OSError as err:
        return f"{file.source}: cannot be read ({err.strerror or err})"
    if not info.is_file:
        return f"{file.source}: not a regular file"
    if info.size == 0:
        return f"{file.source}: file is empty"
    if info.size > max_file_size:
        return f"{file.source}: {info.size:,} bytes is over Plivo's limit of {max_file_size:,} bytes per file"
    if not file.readable():
        return f"{file.source}: permission denied"
    return None


def validate_media_files(
    files: Sequence[str | os.PathLike[str] | MediaFile], *, max_file_size: int = MAX_MEDIA_FILE_SIZE
) -> None:
    """Raise one :class:`PlivoMediaValidationError` naming every file that cannot be uploaded.

    ``files`` are paths, URIs or :class:`~airflow_provider_plivo.media.sources.MediaFile` objects.
    The error is raised from the first store error, if any. Once a store could not be reached,
    its other files are not tried: each try would wait out the store's own retries (seconds).
    """
    problems: list[str] = []
    first_store_error: PlivoMediaSourceError | None = None
    unreachable: dict[object, PlivoMediaSourceError] = {}
    for file in map(media_file, files):
        down = unreachable.get(file.store)
        if down is not None:
            problems.append(
                f"{file.source}: not checked, as its store could not be reached for {down.source}"
            )
            continue
        try:
            problem = media_file_problem(file, max_file_size=max_file_size)
        except PlivoMediaSourceError as err:
            problem = str(err)
            first_store_error = first_store_error or err
            if could_not_connect(err.__cause__):
                unreachable[file.store] = err
        if problem:
            problems.append(problem)
    if problems:
        raise PlivoMediaValidationError(problems) from first_store_error
