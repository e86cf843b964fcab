"""pytest fixture for DAG tests: ``plivo_sandbox``, a running sandbox behind ``plivo_default``.

Installed with the package as a pytest plugin, so any project can write::

    def test_my_dag(plivo_sandbox):
        ...  # PlivoHook() / the operators now talk to plivo_sandbox
        assert len(plivo_sandbox.media) == 3
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_provider_plivo.sandbox.server import PlivoSandbox

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def plivo_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[PlivoSandbox]:
    """A fresh sandbox for one test, set as the ``plivo_default`` connection through the environment."""
    with PlivoSandbox() as sandbox:
        monkeypatch.setenv("AIRFLOW_CONN_PLIVO_DEFAULT", sandbox.connection_json())
        yield sandbox
