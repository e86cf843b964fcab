"""The sandbox is opt-in: an extra, a pytest plugin a project names itself, a clear word when missing."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import distribution

WITHOUT_THE_EXTRA = "import sys; sys.modules['python_multipart'] = None; "


def test_the_installed_distribution_registers_no_pytest_plugin():
    dist = distribution("airflow-provider-plivo")

    assert [ep.name for ep in dist.entry_points if ep.group == "pytest11"] == []
    assert {ep.group for ep in dist.entry_points} == {"apache_airflow_provider", "console_scripts"}


def test_the_sandbox_extra_brings_python_multipart():
    requires = distribution("airflow-provider-plivo").requires or []

    markers = [
        r.partition(";")[2].replace('"', "'").strip() for r in requires if r.startswith("python-multipart")
    ]
    assert "extra == 'sandbox'" in markers, requires


def python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` from /, so that the installed package runs, not the working tree."""
    command = [sys.executable, "-c", WITHOUT_THE_EXTRA + code, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False, cwd="/")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return python("from airflow_provider_plivo.sandbox.cli import main; sys.exit(main(sys.argv[1:]))", *args)


def test_plivo_sandbox_without_the_extra_says_how_to_install_it():
    result = run_cli("--port", "0")

    assert result.returncode == 1
    assert "pip install 'airflow-provider-plivo[sandbox]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_plivo_sandbox_help_needs_no_extra():
    result = run_cli("--help")

    assert (result.returncode, "default 8765" in " ".join(result.stdout.split())) == (0, True)


def test_importing_the_sandbox_without_the_extra_names_it():
    result = python("from airflow_provider_plivo.sandbox import PlivoSandbox")

    assert result.returncode == 1
    assert "pip install 'airflow-provider-plivo[sandbox]'" in result.stderr
