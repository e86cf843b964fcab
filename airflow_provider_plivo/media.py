"""What Plivo accepts as MMS media, and the checks run on every file before an upload."""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from airflow_provider_plivo.exceptions import PlivoMediaValidationError
from airflow_provider_plivo.limits import MAX_MEDIA_FILE_SIZE

if TYPE_CHECKING:
    from collections.abc import Sequence

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
"""File extension (lower case) -> IANA media type, for every type Plivo lists for MMS."""


def media_content_type(path: str) -> str | None:
    """The IANA media type Plivo MMS accepts for ``path``, or None when it accepts none."""
    return MMS_MEDIA_TYPES.get(os.path.splitext(path)[1].lower())


def media_file_problem(path: str, *, max_file_size: int = MAX_MEDIA_FILE_SIZE) -> str | None:
    """Why ``path`` cannot be uploaded to Plivo, in a sentence that names it; None when it can."""
    if media_content_type(path) is None:
        ext = os.path.splitext(path)[1] or "no extension"
        return f"{path}: type {ext!r} is not accepted for MMS (accepted: {', '.join(MMS_MEDIA_TYPES)})"
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return f"{path}: no such file"
    except OSError as err:
        return f"{path}: cannot be read ({err.strerror})"
    if not stat.S_ISREG(info.st_mode):
        return f"{path}: not a regular file"
    if info.st_size == 0:
        return f"{path}: file is empty"
    if info.st_size > max_file_size:
        return f"{path}: {info.st_size:,} bytes is over Plivo's limit of {max_file_size:,} bytes per file"
    if not os.access(path, os.R_OK):
        return f"{path}: permission denied"
    return None


def validate_media_files(paths: Sequence[str], *, max_file_size: int = MAX_MEDIA_FILE_SIZE) -> None:
    """Raise one :class:`PlivoMediaValidationError` naming every file that cannot be uploaded."""
    problems = [p for p in (media_file_problem(path, max_file_size=max_file_size) for path in paths) if p]
    if problems:
        raise PlivoMediaValidationError(problems)
