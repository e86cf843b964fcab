"""The README's "Your own DAG against the sandbox" block, pasted into bash as a new user would."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import requests

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parents[2]
ACTIVATE = "source .venv/airflow-3.3.2/bin/activate"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def bash_block(section: str) -> str:
    """The one ```bash block of the README section titled ``section``."""
    text = (REPO / "README.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    blocks: list[str] = re.findall(r"^```bash\n(.*?)^```$", body, re.MULTILINE | re.DOTALL)
    (block,) = blocks
    return block


def listening(port: int) -> bool:
    """Whether anything accepts connections on ``port`` of the loopback address."""
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def one_run_at_a_time() -> Iterator[None]:
    """Runs of this test on one machine take turns, each free to start the sandbox on port 8765."""
    with (Path(tempfile.gettempdir()) / "plivo-sandbox-readme-test.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def as_run_here(block: str) -> tuple[str, int]:
    """The block in the venv running this test, and the sandbox's port.

    As written (port 8765) unless something holds that port already, such as a sandbox left
    running from this very section: then on a free port, changing only the port.
    """
    script = block.replace(ACTIVATE, f"source {shlex.quote(sys.prefix)}/bin/activate", 1)
    if not listening(8765):
        return script, 8765
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = int(free.getsockname()[1])
    assert script.count("plivo-sandbox &") == 1
    assert "127.0.0.1:8765" in script
    script = script.replace("plivo-sandbox &", f"plivo-sandbox --port {port} &")
    return script.replace("127.0.0.1:8765", f"127.0.0.1:{port}"), port


def test_your_own_dag_against_the_sandbox_runs_as_written(tmp_path):
    block = bash_block("Your own DAG against the sandbox")
    # The README's venv is the one scripts/demo.sh makes; the test runs in its own.
    assert block.startswith(f"{ACTIVATE} ")
    assert "setup-venv.sh 3.3.2" in (REPO / "scripts" / "demo.sh").read_text()
    # A new user's shell: none of the test run's Airflow settings; mktemp -d lands in tmp_path.
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AIRFLOW", "PLIVO"))}
    log = tmp_path / "output.txt"

    with one_run_at_a_time(), log.open("w") as output:
        script, port = as_run_here(block)
        shell = subprocess.Popen(
            ["bash", "-e", "-c", script],
            cwd=REPO,
            env={**env, "TMPDIR": str(tmp_path)},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the sandbox it leaves running in the background is in its group
        )
        try:
            returncode = shell.wait(timeout=300)
            printed = log.read_text()
            media_ids = re.findall(rf"^media ID: ({UUID})$", printed, re.MULTILINE)
            stored = [
                requests.get(
                    f"http://127.0.0.1:{port}/v1/Account/MASANDBOX00000000000/Media/{media_id}/",
                    auth=("MASANDBOX00000000000", "sandbox-auth-token"),
                    timeout=10,
                ).json()
                for media_id in media_ids
            ]
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(shell.pid, signal.SIGTERM)
            shell.wait()
            deadline = time.monotonic() + 10
            while listening(port) and time.monotonic() < deadline:  # the next run finds the port free
                time.sleep(0.1)

    assert returncode == 0, printed[-3000:]
    assert [media["file_name"] for media in stored] == sorted(os.listdir(REPO / "example_dags" / "media"))
    (export,) = [line for line in printed.splitlines() if line.startswith("export AIRFLOW_CONN_")]
    assert export in script.splitlines(), "the README exports the connection line plivo-sandbox prints"
    assert list(tmp_path.glob("tmp.*/airflow.db")), "the Airflow home is the temporary directory"
