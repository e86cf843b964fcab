"""A local, Plivo-compatible API server for developing and testing DAGs offline.

Needs the ``sandbox`` extra: ``pip install 'airflow-provider-plivo[sandbox]'``. The names below
load on first use, so the ``plivo-sandbox`` command can say so when the extra is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_plivo.sandbox.server import (
        SANDBOX_AUTH_ID,
        SANDBOX_AUTH_TOKEN,
        PlivoSandbox,
        SandboxRequest,
        StoredMedia,
    )

__all__ = ["SANDBOX_AUTH_ID", "SANDBOX_AUTH_TOKEN", "PlivoSandbox", "SandboxRequest", "StoredMedia"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from airflow_provider_plivo.sandbox import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
