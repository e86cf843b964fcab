"""A local, Plivo-compatible API server for developing and testing DAGs offline."""

from airflow_provider_plivo.sandbox.server import (
    SANDBOX_AUTH_ID,
    SANDBOX_AUTH_TOKEN,
    PlivoSandbox,
    SandboxRequest,
    StoredMedia,
)

__all__ = ["SANDBOX_AUTH_ID", "SANDBOX_AUTH_TOKEN", "PlivoSandbox", "SandboxRequest", "StoredMedia"]
