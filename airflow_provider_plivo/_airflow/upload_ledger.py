"""Resuming an upload across Airflow tries, through the task state store (Airflow 3.3+).

What an upload does is written in numbered parts (``plivo_media_chunk_1``, ``_2``...), each a
batch of entries: the *intent* of a wave (the files about to go, and when), the media
records of finished chunks, each file with its fingerprint, and the files whose intent is
withdrawn (the upload stopped before sending them). The uploader queues entries and
writes them every quarter second or so, all that is queued in as few parts as Airflow's value
size allows, so the writes follow the upload's duration and its bytes of records, not its
number of chunks. A later try of the same task instance reads the parts back (until one is
missing: nothing else needs writing) and reuses the records of files unchanged since (same
size, and modification time or ETag); files with intent but no record are reconciled with
Plivo's media list (:mod:`~airflow_provider_plivo.media.reconcile`).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.limits import MEDIA_EXPIRY_HOURS
from airflow_provider_plivo.media.uploader import EarlierUploads

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_plivo.media.sources import MediaFile
    from airflow_provider_plivo.records import MediaRecord

__all__ = ["PART_BUDGET", "RESUME_RETENTION", "TaskStateUploadLedger"]

RESUME_RETENTION = timedelta(hours=MEDIA_EXPIRY_HOURS - 1)
"""How long records are kept for later tries: an hour under Plivo's expiry of unused media, so
reused media always has at least an hour left in which to be sent."""

PART_BUDGET = 60_000
"""Characters of JSON in one stored part: under Airflow's ``[state_store]
max_value_storage_bytes`` of 65,535, beyond which it warns (and its REST API refuses)."""

_PART_KEY = "plivo_media_chunk_{}"


class TaskStateUploadLedger:
    """What earlier tries of this task instance uploaded, and what this try does
    (an :class:`~airflow_provider_plivo.media.uploader.UploadLedger`).

    Use from the task's main thread only: the task state store talks to Airflow's supervisor,
    which worker threads cannot reach.
    """

    def __init__(self, store: Any, files: Sequence[MediaFile]) -> None:
        self._store = store
        self._files = {file.source: file for file in files}
        self._parts: list[Any] = []
        while (part := store.get(_PART_KEY.format(len(self._parts) + 1))) is not None:
            self._parts.append(part)
        self._queued: list[dict[str, Any]] = []
        self._fingerprints: dict[str, str | None] = {}
        self.writes = 0

    def earlier(self) -> EarlierUploads:
        records: dict[str, MediaRecord] = {}
        intents: dict[str, datetime] = {}
        for part in self._parts:
            # Parts written before intents were kept are plain lists of records.
            for entry in part if isinstance(part, list) else part.get("entries", []):
                if "record" in entry:
                    if self._unchanged(entry["record"]["file"], entry["fingerprint"]):
                        records[entry["record"]["file"]] = entry["record"]
                elif "withdrawn" in entry:
                    for source in entry["withdrawn"]:
                        intents.pop(source, None)
                else:
                    moment = datetime.fromisoformat(entry["intent"])
                    for source, fingerprint in entry["files"]:
                        if self._unchanged(source, fingerprint):
                            intents.setdefault(source, moment)
        in_doubt = [(source, moment) for source, moment in intents.items() if source not in records]
        return EarlierUploads(records, in_doubt)

    def intend(self, sources: Sequence[str], moment: datetime) -> None:
        files = [[source, self._fingerprint(source)] for source in sources]
        self._queued.append({"intent": moment.isoformat(), "files": files})

    def record(self, records: Sequence[MediaRecord]) -> None:
        self._queued.extend({"fingerprint": self._fingerprint(r["file"]), "record": dict(r)} for r in records)

    def withdraw(self, sources: Sequence[str]) -> None:
        if sources:
            self._queued.append({"withdrawn": list(sources)})

    def flush(self) -> None:
        """Write what is queued: one part, or as many as :data:`PART_BUDGET` needs."""
        parts: list[list[dict[str, Any]]] = [[]]
        size = 0
        for entry in self._split(self._queued):
            length = len(json.dumps(entry)) + 2
            if parts[-1] and size + length > PART_BUDGET:
                parts.append([])
                size = 0
            parts[-1].append(entry)
            size += length
        self._queued = []
        for n, entries in enumerate(parts):
            if not entries:
                continue
            try:
                self._store.set(
                    _PART_KEY.format(len(self._parts) + 1), {"entries": entries}, retention=RESUME_RETENTION
                )
            except BaseException:
                # Interrupted mid-write: written or not, the part goes again with the next flush
                # (an entry kept twice reads as once).
                self._queued = [entry for part in parts[n:] for entry in part]
                raise
            self._parts.append({"entries": entries})
            self.writes += 1

    @staticmethod
    def _split(entries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """``entries`` with every intent and withdrawal cut into pieces of at most :data:`PART_BUDGET`."""
        pieces: list[dict[str, Any]] = []
        for entry in entries:
            field = "files" if "intent" in entry else "withdrawn" if "withdrawn" in entry else None
            if field is None:
                pieces.append(entry)
                continue
            piece: dict[str, Any] = {**entry, field: []}
            size = len(json.dumps(piece))
            for item in entry[field]:
                length = len(json.dumps(item)) + 2
                if piece[field] and size + length > PART_BUDGET:
                    pieces.append(piece)
                    piece = {**entry, field: []}
                    size = len(json.dumps(piece))
                piece[field].append(item)
                size += length
            pieces.append(piece)
        return pieces

    def _unchanged(self, source: str, fingerprint: str | None) -> bool:
        return source in self._files and fingerprint == self._fingerprint(source)

    def _fingerprint(self, source: str) -> str | None:
        """The file's fingerprint, or None for a file gone or unreadable (validation will name it);
        read once per file and try, as an object store answers it over the network."""
        if source not in self._fingerprints:
            try:
                self._fingerprints[source] = self._files[source].info().fingerprint
            except OSError:
                self._fingerprints[source] = None
        return self._fingerprints[source]
