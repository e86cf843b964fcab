"""The code keeps the README's picture of its layers: the HTTP layer knows nothing of Airflow,
the lower layers nothing of the ones above, and the sandbox nothing of the client it tests."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "airflow_provider_plivo"


def imported_after(*modules: str) -> set[str]:
    """Every module loaded by importing ``modules`` in a fresh interpreter."""
    probe = f"import sys; import {', '.join(modules)}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd="/")
    return set(out.stdout.split())


def test_the_client_layer_loads_no_airflow():
    loaded = imported_after("airflow_provider_plivo.transport.client", "airflow_provider_plivo.transport.account")

    assert not {m for m in loaded if m == "airflow" or m.startswith("airflow.")}


def test_uploads_and_sends_load_nothing_above_them():
    loaded = imported_after("airflow_provider_plivo.media.uploader", "airflow_provider_plivo.messages.sender")

    above = ("hooks", "operators", "sensors", "triggers", "notifications", "sandbox")
    assert not {m for m in loaded for layer in above if m.startswith(f"airflow_provider_plivo.{layer}")}
    assert not {m for m in loaded if m == "airflow" or m.startswith("airflow.")}


@pytest.mark.parametrize("path", sorted((PACKAGE / "sandbox").glob("*.py")), ids=lambda p: p.name)
def test_the_sandbox_imports_only_limits_from_the_package(path):
    tree = ast.parse(path.read_text())
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.startswith("airflow_provider_plivo")
    }

    assert imported <= {"airflow_provider_plivo.limits"} | {
        m for m in imported if m.startswith("airflow_provider_plivo.sandbox")
    }
