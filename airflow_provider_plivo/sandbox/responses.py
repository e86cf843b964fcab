"""The answers the sandbox gives, and Plivo's error shape, shared by the server and its faults."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Response", "SandboxHTTPError", "error_response", "json_response", "new_api_id"]


@dataclass
class Response:
    """One answer, or the misbehaviour (reset, hang) that replaces it."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    """Reset the connection instead of answering."""
    hang: bool = False
    """Say nothing until ``hang_seconds`` pass (or the sandbox stops), then drop."""
    close: bool = False
    """Close the connection after answering (the rest of the request was not read)."""


class SandboxHTTPError(Exception):
    """Raised to answer an error in Plivo's shape (see :func:`error_response`)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def new_api_id() -> str:
    """A fresh ``api_id``: Plivo gives every answer its own."""
    return str(uuid.uuid4())


def json_response(status: int, payload: dict[str, Any]) -> Response:
    """A JSON answer."""
    return Response(status, json.dumps(payload).encode())


def error_response(status: int, message: str) -> Response:
    """An error answer in Plivo's shape. Plivo's recorded 401 carries no ``api_id``; the others do."""
    if status == 401:
        return json_response(status, {"error": message})
    return json_response(status, {"api_id": new_api_id(), "error": message})
