"""Resuming an upload across Airflow tries, through the task state store (Airflow 3.3+).

Each finished chunk's media records are written under a key of their own, with a counter
key naming how many there are: writes stay proportional to the files uploaded, however large
the batch. A later try of the same task instance reads them back and reuses the records of
files that have not changed since (same size, and modification time or ETag), so only what is
missing is uploaded again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.limits import MEDIA_EXPIRY_HOURS

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_plivo.media.sources import MediaFile
    from airflow_provider_plivo.records import MediaRecord

__all__ = ["UploadLedger"]

RESUME_RETENTION = timedelta(hours=MEDIA_EXPIRY_HOURS - 1)
"""How long records are kept for later tries: an hour under Plivo's expiry of unused media, so
reused media always has at least an hour left in which to be sent."""

_COUNT_KEY = "plivo_media_chunks"
_CHUNK_KEY = "plivo_media_chunk_{}"


class UploadLedger:
    """The media records earlier tries of this task instance uploaded, and this try adds.

    Use from the task's main thread only: the task state store talks to Airflow's supervisor,
    which worker threads cannot reach.
    """

    def __init__(self, store: Any, files: Sequence[MediaFile]) -> None:
        self._store = store
        self._files = {file.source: file for file in files}
        self._chunks = int(store.get(_COUNT_KEY, 0) or 0)

    def reusable(self) -> dict[str, MediaRecord]:
        """Records of earlier tries for this batch's files that have not changed since."""
        found: dict[str, MediaRecord] = {}
        for number in range(1, self._chunks + 1):
            for entry in self._store.get(_CHUNK_KEY.format(number), []) or []:
                record = entry["record"]
                file = self._files.get(record["file"])
                if file is not None and entry["fingerprint"] == _fingerprint(file):
                    found[record["file"]] = record
        return found

    def add(self, records: Sequence[MediaRecord]) -> None:
        """Keep one finished chunk's records for later tries."""
        entries = [{"fingerprint": _fingerprint(self._files[r["file"]]), "record": dict(r)} for r in records]
        self._chunks += 1
        self._store.set(_CHUNK_KEY.format(self._chunks), entries, retention=RESUME_RETENTION)
        self._store.set(_COUNT_KEY, self._chunks, retention=RESUME_RETENTION)


def _fingerprint(file: MediaFile) -> str | None:
    """The file's fingerprint, or None for a file gone or unreadable (validation will name it)."""
    try:
        return file.info().fingerprint
    except OSError:
        return None
