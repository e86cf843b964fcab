"""Test tooling: the task state store's surface, in memory, for tests of the ledgers with no
Airflow task around them."""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import timedelta

__all__ = ["MemoryStore"]


class MemoryStore:
    """The task state store's surface, in memory; values go through JSON as Airflow's do, and
    only the main thread may call it, as in a task."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.writes = 0

    def get(self, key: str, default: Any = None) -> Any:
        assert threading.current_thread() is threading.main_thread()
        return self.values.get(key, default)

    def set(self, key: str, value: Any, *, retention: timedelta) -> None:
        assert threading.current_thread() is threading.main_thread()
        assert len(json.dumps(value)) <= 65_535, "Airflow's max_value_storage_bytes"
        self.values[key] = json.loads(json.dumps(value))
        self.writes += 1
