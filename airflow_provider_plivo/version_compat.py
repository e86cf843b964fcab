"""What differs between the Airflow versions this provider supports (3.1 to 3.3), in one place.

Every other module imports the version-dependent names from here, so dropping an old Airflow
means editing this file alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context, ObjectStoragePath

try:
    from airflow.sdk.configuration import conf
except ImportError:  # Airflow 3.1 reads configuration only through airflow.configuration
    from airflow.configuration import conf

try:
    from airflow.sdk.exceptions import AirflowFailException
except ImportError:  # Airflow 3.1 has it only in airflow.exceptions (deprecated there from 3.2)
    from airflow.exceptions import AirflowFailException  # type: ignore[no-redef]


def has_task_state_store() -> bool:
    """Whether this Airflow has the task state store (3.3+), which lets a retried task resume."""
    from airflow.sdk.execution_time import context

    return hasattr(context, "TaskStateStoreAccessor")


def task_state_store(context: Context) -> Any | None:
    """The task state store (3.3+), which survives across tries of a task instance; None before."""
    return context.get("task_state_store")


def object_storage_conn_id(path: ObjectStoragePath) -> str | None:
    """The Airflow connection an ObjectStoragePath reads through: 3.2+ exposes it as ``conn_id``,
    3.1 keeps it in ``storage_options``."""
    return getattr(path, "conn_id", None) or path.storage_options.get("conn_id")


__all__ = [
    "AirflowFailException",
    "conf",
    "has_task_state_store",
    "object_storage_conn_id",
    "task_state_store",
]
