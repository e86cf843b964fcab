"""The import-linter contracts in pyproject.toml hold the layers the README draws, and they do
fail when someone adds an upward import (checked on a copy of the package)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("lint-imports")), "--config", str(REPO / "pyproject.toml")]
    return subprocess.run(
        command, cwd=root, env={"PYTHONPATH": str(root)}, capture_output=True, text=True, check=False
    )


def test_the_package_keeps_every_contract():
    result = lint_imports(REPO)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("transport/core.py", "from airflow_provider_plivo.hooks import plivo", "Imports point down"),
        ("messages/rules.py", "if False:\n    import airflow.sdk", "know nothing of Airflow"),
        ("media/rules.py", "from airflow_provider_plivo.sandbox import server", "imports the sandbox"),
    ],
    ids=["upward", "airflow-in-messages", "sandbox"],
)
def test_an_offending_import_breaks_a_contract(tmp_path, module, line, contract):
    shutil.copytree(REPO / "airflow_provider_plivo", tmp_path / "airflow_provider_plivo")
    with (tmp_path / "airflow_provider_plivo" / module).open("a") as source:
        source.write(f"\n{line}\n")

    result = lint_imports(tmp_path)

    assert result.returncode != 0
    assert f"{contract}" in result.stdout.replace("\n", " ")
    assert "BROKEN" in result.stdout
