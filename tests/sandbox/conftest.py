"""Fixtures for the sandbox's own tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def sandbox_cli() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``plivo-sandbox`` with the given arguments (its stdout readable); each one started is
    stopped with SIGTERM after the test, which it must answer by exiting 0."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        command = [os.path.join(os.path.dirname(sys.executable), "plivo-sandbox"), *args]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        started.append(process)
        return process

    yield start
    for process in started:
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.returncode == 0
