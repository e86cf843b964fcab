"""The demo the README's Quick start runs: quiet, ends with its summary, fails when a DAG fails."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.dag
DEMO = Path(__file__).resolve().parents[2] / "scripts" / "demo.py"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def demo(**env: str) -> subprocess.CompletedProcess[str]:
    """Run scripts/demo.py as scripts/demo.sh does, with the Python running the tests."""
    return subprocess.run(
        [sys.executable, str(DEMO)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_demo_prints_media_ids_and_message_states_and_little_else():
    result = demo()

    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    summary = lines[lines.index("== summary") + 1 :]
    assert summary[0] == "example_plivo_media_upload: success"
    names = ["01-sunrise.jpg", "02-ocean.png", "03-forest.gif", "04-berry.jpg", "05-sand.png"]
    assert summary[6] == "example_plivo_mms_campaign: success"
    for line, name in zip(summary[1:6] + summary[7:10], names + names[:3], strict=True):
        assert re.fullmatch(rf"  {re.escape(name)} +media ID {UUID}", line), line
    for line, number in zip(summary[10:12], ["+14155550101", "+14155550102"], strict=True):
        assert re.fullmatch(rf"  MMS to {re.escape(number)} +message {UUID}  sent", line), line
    assert summary[12].startswith("`sent`: ")
    assert "+1 numbers `sent` is final" in summary[12]
    assert summary[13:] == ["The sandbox holds 8 media files and 2 messages."]
    assert len(lines) < 30
    assert "[info" not in result.stdout + result.stderr
    assert "No tasks to run" not in result.stdout + result.stderr


def test_the_demo_exits_1_naming_the_problem_when_a_dag_fails(tmp_path):
    (tmp_path / "setup.exe").write_bytes(b"MZ")

    result = demo(PLIVO_MEDIA_DIR=str(tmp_path))

    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert f"{tmp_path / 'setup.exe'}: type '.exe' is not accepted for MMS" in output
    assert "example_plivo_media_upload: FAILED {'upload_media': 'failed'" in result.stdout
    assert "example_plivo_mms_campaign: success" in result.stdout
