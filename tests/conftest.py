"""Test setup: a throwaway AIRFLOW_HOME on SQLite whose dags folder holds the example DAGs and
the test DAGs, and fixtures to run a DAG with ``dag.test()`` and read what it left behind.

Airflow reads its configuration on first import, so the environment is set here, before any
test module imports Airflow. Tests reach these paths through the fixtures below, never by
importing this module.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


# pytest puts tests/ on sys.path, not the clone, so tests.support needs the clone appended: after
# site-packages, so that the installed package, not the working tree, is what the tests import.
sys.path.append(str(Path(__file__).resolve().parent.parent))
from tests.support.dag_runs import migrate_metadata_db, run_dag_file

pytest_plugins = ["airflow_provider_plivo.sandbox.pytest_plugin"]

REPO = Path(__file__).resolve().parent.parent
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="plivo-airflow-home-"))
DAGS_FOLDER = AIRFLOW_HOME / "dags"
DAGS_FOLDER.mkdir()
(DAGS_FOLDER / "example_dags").symlink_to(REPO / "example_dags")
(DAGS_FOLDER / "test_dags").symlink_to(REPO / "tests" / "dags")
os.environ.update(
    AIRFLOW_HOME=str(AIRFLOW_HOME),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_FOLDER),
)
os.environ.pop("AIRFLOW_CONN_PLIVO_DEFAULT", None)


@pytest.fixture
def plivo_sandbox_options() -> dict[str, Any]:
    """The suite's sandboxes send every message at once and let the message list be read freely;
    every other habit of production Plivo stays on. At 0.25 MMS a second a test's sensor would
    wait 4 s a message; the hook does not budget the list's 20 a minute yet. Tests about those
    habits start their sandbox with them (``plivo_sandbox_factory(mps=...)`` or ``PlivoSandbox()``).
    """
    return {"mps": None, "message_list_rate_limit": None}


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The temporary AIRFLOW_HOME every test runs with (its metadata database, logs, dags folder)."""
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def dags_folder() -> Path:
    """The dags folder: ``example_dags/`` and ``test_dags/`` (this repository's tests/dags)."""
    return DAGS_FOLDER


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated metadata database (SQLite under the temporary AIRFLOW_HOME)."""
    migrate_metadata_db()


@pytest.fixture
def run_dag(airflow_db: None) -> Callable[..., Any]:
    """Run the DAG named ``dag`` in a file of the dags folder with ``dag.test()``; return the DagRun."""

    def run(relative_path: str, **conf: Any) -> Any:
        return run_dag_file(DAGS_FOLDER / relative_path, **conf)

    return run


@pytest.fixture
def make_media(tmp_path: Path) -> Callable[..., list[str]]:
    """Write distinct small files named ``m00.jpg``, ``m01.png``... cycling through ``kinds``."""

    def make(
        count: int, kinds: tuple[str, ...] = ("jpg",), *, size: int = 256, folder: Path = tmp_path
    ) -> list[str]:
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for i in range(count):
            path = folder / f"m{i:02d}.{kinds[i % len(kinds)]}"
            header = f"file {i} of {count}\n".encode()
            path.write_bytes(header + bytes((i * 7 + j) % 251 for j in range(size - len(header))))
            paths.append(str(path))
        return paths

    return make


@pytest.fixture
def plivo_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Point ``plivo_default`` at a URL no sandbox serves, with the given credentials and extras.

    For a sandbox, use the ``plivo_sandbox_factory`` fixture (the sandbox's pytest plugin).
    """

    def point(url: str, *, login: str, password: str, **extra: Any) -> None:
        import json

        conn = {"conn_type": "plivo", "login": login, "password": password, "host": url, "extra": extra}
        monkeypatch.setenv("AIRFLOW_CONN_PLIVO_DEFAULT", json.dumps(conn))

    return point


@pytest.fixture(scope="session")
def refused_port() -> Iterator[int]:
    """A loopback port that refuses every connection, for the whole run: bound but not listening,
    so no other server (another xdist worker's sandbox) can take it, as one closed after a probe
    could be taken."""
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


@pytest.fixture
def plivo_down(plivo_env: Callable[..., None], refused_port: int) -> str:
    """Point ``plivo_default`` at a port where nothing answers, with the sandbox's credentials. Its URL."""
    from airflow_provider_plivo.sandbox import SANDBOX_AUTH_ID, SANDBOX_AUTH_TOKEN

    url = f"http://127.0.0.1:{refused_port}"
    plivo_env(url, login=SANDBOX_AUTH_ID, password=SANDBOX_AUTH_TOKEN)
    return url


TIERS = {
    "unit": "unit",
    "integration": "integration",
    "sandbox": "integration",
    "adversarial": "adversarial",
    "dag_runs": "dag",
}
"""Test folder -> the marker every test in it gets: ``-m unit`` runs the tier that needs no
server (seconds), ``-m "not dag"`` everything but real DAG runs."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    for item in items:
        folder = Path(item.path).relative_to(tests).parts[0]
        if folder in TIERS:
            item.add_marker(TIERS[folder])


@pytest.fixture
def report_figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Record a measured figure; all of them are printed at the end of the run, even when passing
    (carried in the test's report, so that they reach the summary from pytest-xdist's workers)."""
    return lambda line: request.node.user_properties.append(("figure", line))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    figures = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "figure"
    ]
    if figures:
        terminalreporter.section("fault-injection figures")
        for line in figures:
            terminalreporter.write_line(line)
