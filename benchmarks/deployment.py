"""Measure the provider inside a real Airflow deployment: CeleryExecutor on PostgreSQL and Redis.

Starts, in a temporary AIRFLOW_HOME: PostgreSQL 15 (the OS packages' initdb/pg_ctl, as the
``postgres`` user when run as root), Redis, Airflow 3.3.2 with the CeleryExecutor (two workers of
4 slots), scheduler, dag-processor, triggerer and api-server, and the bundled sandbox
(``plivo-sandbox``: 150 ms latency, 300 requests per 5 s and 100 at once enforced) behind the
``plivo_default`` connection, given to every Airflow process as AIRFLOW_CONN_PLIVO_DEFAULT. The
DAGs are benchmarks/dags/. Airflow and the package go into a venv of their own (``--venv``),
made on first use; the package is reinstalled from this working tree on every start.

Scenarios (all by default; pick with their flags):

- ``--shared``: 3 and 6 mapped uploads of 1,000 files on one account, the hook's adaptive
  concurrency against a fixed 16: time against the account's bound, 429s and files stored (from
  the sandbox's stats), and the task state store writes (PUTs in the api-server's access log).
- ``--kill``: SIGKILL of an upload task process with its 30 chunks in flight (and with all of
  them answered), then its retry: copies stored beyond one; SIGKILL mid-send of 3,000 numbers,
  then its retry: numbers messaged twice.
- ``--outage``: a poke and a deferred sensor (no Airflow retries) through a 60 s spell of 503s on
  every status read; needs the sandbox's ``POST /_sandbox/faults`` (reported when missing).

Every run gets a fresh sandbox (same port, so the connection holds), which empties its stats.
Prints a table (median of ``--runs``, fastest and slowest beside it) and writes
benchmarks/deployment.md. Everything it started is stopped at the end, on Ctrl-C too. Not part
of the test suite: it needs the OS packages and takes minutes.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
AIRFLOW_VERSION = "3.3.2"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
AUTH_ID, AUTH_TOKEN = "MADEPLOY000000000000", "deploy-token"
ACCOUNT_RATE, ACCOUNT_PERIOD, ACCOUNT_IN_FLIGHT = 300, 5.0, 100
"""Plivo's account limits, which the sandbox enforces."""
LATENCY_MS = 150.0
FILES_PER_TASK, KILL_FILES, KILL_CHUNKS, SEND_NUMBERS = 1000, 300, 30, 3000
"""Must agree with benchmarks/dags/deployment_dags.py."""
KILL_LATENCY_MS = 10000.0
"""The killed scenarios' latency: long enough to kill while every request is in flight (the
benchmark notices the task's first request a few seconds late on a busy machine)."""
IN_FLIGHT_WAIT = 3.0
"""Seconds from the task's "sending now" log line to the kill: the requests are out by then."""
OUTAGE_SECONDS = 60
GROUPS = ("shared", "kill", "outage")
"""The kinds of scenario, each with its flag and its section of deployment.md."""
CELERY_PINS = ("celery==5.6.3", "kombu[redis]==5.6.2", "redis>=4.5.2,<6.5")
"""Without them pip backtracks through every kombu down to 3.0 (kombu's redis extra wants
redis<6.5) and does not finish; with them the install takes about 5 minutes here."""
_STATE_STORE_PUT = re.compile(
    r"method=PUT\b.*path=/execution/store/ti/|path=/execution/store/ti/.*method=PUT\b"
)
_DURATION = re.compile(r"duration_us=(\d+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 60) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read() or b"null")


def wait_for(what: str, check: Any, timeout: float, interval: float = 0.5) -> Any:
    """Call ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, subprocess.CalledProcessError, ValueError):
            if result := check():
                return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Processes:
    """The processes this benchmark started, each in a session of its own so that stopping one
    also stops what it forked (Celery's pool, the tasks' supervisors), and nothing else."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self._outputs: list[IO[bytes]] = []

    def start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        output = (self.logs / f"{name}.log").open("ab")
        self._outputs.append(output)
        process = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.running[name] = process
        return process

    def stop(self, name: str, grace: float = 20) -> None:
        process = self.running.pop(name, None)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
        # Children outlive a leader that exited (a worker's pool, a task's process): the group goes.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)

    def stop_all(self) -> None:
        for name in list(self.running)[::-1]:
            self.stop(name)
        for output in self._outputs:
            output.close()


class Postgres:
    """A PostgreSQL 15 cluster of its own on a free port, run as an unprivileged user (initdb and
    the server refuse root), trusting local connections: it lives only as long as the run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.started = False

    def start(self) -> None:
        self.folder.mkdir(parents=True)
        if self.as_user:
            # mkdtemp's folder is root's alone: the server's user must reach its cluster inside.
            self.folder.parent.chmod(0o755)
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )
        self.started = True
        self.sql("CREATE DATABASE airflow")

    def stop(self) -> None:
        if self.started:
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.started = False

    def sql(self, query: str) -> list[list[str]]:
        database = "postgres" if query.startswith("CREATE DATABASE") else "airflow"
        out = subprocess.run(
            [
                str(PG_BIN / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-AtF",
                "\t",
                "-c",
                query,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return [line.split("\t") for line in out.splitlines() if line]

    @property
    def url(self) -> str:
        return f"postgres@127.0.0.1:{self.port}/airflow"

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, capture_output=True, cwd=self.folder)


class Sandbox:
    """``plivo-sandbox`` on a fixed port, started afresh for every run (which empties its stats
    and stored media) with that run's flags; the connection every Airflow process has stays valid."""

    def __init__(self, processes: Processes, bin_dir: Path, env: dict[str, str]) -> None:
        self.processes, self.bin_dir, self.env = processes, bin_dir, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, latency_ms: float = LATENCY_MS) -> None:
        self.processes.stop("sandbox", grace=10)
        self.processes.start(
            "sandbox",
            [
                str(self.bin_dir / "plivo-sandbox"),
                "--port",
                str(self.port),
                "--auth-id",
                AUTH_ID,
                "--auth-token",
                AUTH_TOKEN,
                "--latency-ms",
                str(latency_ms),
                "--rate-limit",
                f"{ACCOUNT_RATE}/{ACCOUNT_PERIOD:g}",
                "--max-in-flight",
                str(ACCOUNT_IN_FLIGHT),
            ],
            self.env,
        )
        wait_for("the sandbox", self.stats, timeout=60, interval=0.2)

    def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = http_json(f"{self.url}/_sandbox/stats")
        return answer

    def connection(self) -> str:
        return json.dumps(
            {
                "conn_type": "plivo",
                "login": AUTH_ID,
                "password": AUTH_TOKEN,
                "host": self.url,
                "extra": {"timeout": 30},
            }
        )


class Deployment:
    """The whole deployment; ``with Deployment(...)`` stops every part of it on the way out."""

    def __init__(self, venv: Path, files: Path) -> None:
        self.venv = venv
        self.bin = venv / "bin"
        self.home = Path(tempfile.mkdtemp(prefix="plivo-deploy-home-"))
        (self.home / "logs").mkdir()
        self.processes = Processes(self.home / "logs")
        self.postgres = Postgres(Path(tempfile.mkdtemp(prefix="plivo-deploy-pg-")) / "cluster")
        self.redis_port, self.api_port = free_port(), free_port()
        self.env: dict[str, str] = {}
        self.files = files
        self.sandbox: Sandbox | None = None
        self.setup_seconds = 0.0

    def __enter__(self) -> Deployment:
        started = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        self.setup_seconds = time.monotonic() - started
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.processes.stop_all()
        with contextlib.suppress(subprocess.CalledProcessError):
            self.postgres.stop()

    def _start(self) -> None:
        say(f"AIRFLOW_HOME {self.home}; logs in {self.home / 'logs'}")
        self.postgres.start()
        redis = shutil.which("redis-server")
        if redis is None:
            raise SystemExit("redis-server is missing: apt-get install -y redis-server")
        self.processes.start(
            "redis",
            [
                redis,
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            dict(os.environ),
        )
        pg = self.postgres.url
        self.env = {
            **os.environ,
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(HERE / "dags"),
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{pg}",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://{pg}",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
            # Every process signs and checks the tasks' tokens: one secret for all of them.
            "AIRFLOW__API_AUTH__JWT_SECRET": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "PLIVO_DEPLOY_FILES": str(self.files),
        }
        self.sandbox = Sandbox(self.processes, self.bin, self.env)
        self.env["AIRFLOW_CONN_PLIVO_DEFAULT"] = self.sandbox.connection()
        self.sandbox.start()
        wait_for("redis", lambda: socket.create_connection(("127.0.0.1", self.redis_port), timeout=1), 30)
        subprocess.run(
            [str(self.bin / "airflow"), "db", "migrate"], env=self.env, check=True, capture_output=True
        )
        airflow = str(self.bin / "airflow")
        self.processes.start("api-server", [airflow, "api-server", "--port", str(self.api_port)], self.env)
        self.processes.start("scheduler", [airflow, "scheduler"], self.env)
        self.processes.start("dag-processor", [airflow, "dag-processor"], self.env)
        self.processes.start("triggerer", [airflow, "triggerer"], self.env)
        for n in (1, 2):
            self.processes.start(
                f"worker{n}",
                [
                    airflow,
                    "celery",
                    "worker",
                    "--concurrency",
                    "4",
                    "--celery-hostname",
                    f"w{n}@localhost",
                    "--pid",
                    str(self.home / f"worker{n}.pid"),
                ],
                {**self.env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())},
            )
        wait_for("every component healthy", self._healthy, timeout=300, interval=2)
        wait_for("the DAGs parsed", lambda: len(self.postgres.sql("SELECT dag_id FROM dag")) >= 7, 300, 2)
        wait_for("two Celery workers", self._workers_ready, timeout=180, interval=2)

    def _healthy(self) -> bool:
        health = http_json(f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health")
        return all(
            health.get(part, {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
        )

    def _workers_ready(self) -> bool:
        logs = [(self.home / "logs" / f"worker{n}.log").read_text(errors="replace") for n in (1, 2)]
        return all(" ready." in log for log in logs)

    # -- runs -----------------------------------------------------------------------------------

    def trigger(self, dag_id: str) -> str:
        run_id, command = self.start_trigger(dag_id)
        finish(command)
        return run_id

    def start_trigger(self, dag_id: str) -> tuple[str, subprocess.Popen[bytes]]:
        """Trigger a run without waiting for the CLI: on a busy machine it is still exiting, many
        seconds on, when the run's task has long started."""
        run_id = f"bench_{int(time.time() * 1000)}"
        command = subprocess.Popen(
            [str(self.bin / "airflow"), "dags", "trigger", dag_id, "--run-id", run_id],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return run_id, command

    def run_state(self, dag_id: str, run_id: str) -> str:
        rows = self.postgres.sql(
            f"SELECT state FROM dag_run WHERE dag_id = '{dag_id}' AND run_id = '{run_id}'"
        )
        return rows[0][0] if rows else ""

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 900) -> str:
        state: str = wait_for(
            f"{dag_id} {run_id} to finish",
            lambda: (s := self.run_state(dag_id, run_id)) in {"success", "failed"} and s,
            timeout,
        )
        return state

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        rows = self.postgres.sql(
            "SELECT id, task_id, map_index, state, try_number, extract(epoch from start_date), "
            "extract(epoch from end_date) FROM task_instance "
            f"WHERE dag_id = '{dag_id}' AND run_id = '{run_id}' ORDER BY task_id, map_index"
        )
        keys = ("id", "task_id", "map_index", "state", "try_number", "start", "end")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def task_log(self, dag_id: str, run_id: str, task_id: str, attempt: int) -> Path:
        return self.home / "logs" / f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/attempt={attempt}.log"

    def task_process(self) -> int | None:
        """The one task process this deployment's workers run (the killed scenarios run one task
        at a time): other Airflows on the host title theirs alike, but not in our workers' sessions."""
        workers = {self.processes.running[f"worker{n}"].pid for n in (1, 2)}
        found = [pid for pid in task_processes().values() if session(pid) in workers]
        return found[0] if len(found) == 1 else None

    def api_log_offset(self) -> int:
        return (self.home / "logs" / "api-server.log").stat().st_size

    def state_store_writes(self, since: int) -> list[float]:
        """Milliseconds of every task state store write (PUT) the api-server logged after ``since``."""
        with (self.home / "logs" / "api-server.log").open("rb") as log:
            log.seek(since)
            lines = _ANSI.sub("", log.read().decode(errors="replace")).splitlines()
        return [
            int(match.group(1)) / 1000
            for line in lines
            if _STATE_STORE_PUT.search(line) and (match := _DURATION.search(line))
        ]


def task_processes() -> dict[str, int]:
    """The running task processes: Airflow titles each ``airflow worker -- <task instance id>``."""
    found = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                title = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if title.startswith("airflow worker -- "):
                    found[title.split()[-1]] = int(proc.name)
    return found


def finish(command: subprocess.Popen[bytes]) -> None:
    _, err = command.communicate()
    if command.returncode:
        raise subprocess.CalledProcessError(command.returncode, command.args, stderr=err)


def session(pid: int) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        # Fields after the command's name, which may hold spaces: state, ppid, pgrp, session.
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[3])
    return None


def say(text: str) -> None:
    print(text, flush=True)


# -- scenarios ------------------------------------------------------------------------------------


@dataclass
class Row:
    group: str
    """Its section of deployment.md: one of GROUPS."""
    scenario: str
    figures: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, **figures: float) -> None:
        for name, value in figures.items():
            self.figures.setdefault(name, []).append(value)


def bound(requests: int) -> float:
    """The least time the account allows (README's bound): a round trip plus 5 s for every 300
    requests after the first 300, and never less than the round trips 100 at once need."""
    windows = (math.ceil(requests / ACCOUNT_RATE) - 1) * ACCOUNT_PERIOD + LATENCY_MS / 1000
    return max(windows, math.ceil(requests / ACCOUNT_IN_FLIGHT) * LATENCY_MS / 1000)


def shared(deployment: Deployment, tasks: int, mode: str, row: Row) -> None:
    assert deployment.sandbox is not None
    deployment.sandbox.start()
    dag_id = f"deploy_upload_{tasks}_{mode}"
    offset = deployment.api_log_offset()
    started = time.monotonic()
    run_id = deployment.trigger(dag_id)
    state = deployment.wait_run(dag_id, run_id)
    total = time.monotonic() - started
    stats = deployment.sandbox.stats()
    tis = deployment.task_instances(dag_id, run_id)
    spans = [float(ti["end"]) - float(ti["start"]) for ti in tis if ti["start"] and ti["end"]]
    first = min(float(ti["start"]) for ti in tis if ti["start"])
    last = max(float(ti["end"]) for ti in tis if ti["end"])
    writes = deployment.state_store_writes(offset)
    files = tasks * FILES_PER_TASK
    sandbox_seconds = stats["api_seconds"]
    row.add(
        sandbox_seconds=sandbox_seconds,
        x_bound=sandbox_seconds / bound(math.ceil(files / 10)),
        tasks_seconds=last - first,
        trigger_to_end=total,
        slowest_over_fastest=max(spans) / min(spans),
        responses_429=int(stats["statuses"].get("429", 0)),
        stored=stats["media"],
        extra_copies=stats["media"] - files,
        state_store_writes=len(writes),
        write_ms_median=statistics.median(writes) if writes else 0.0,
    )
    if state != "success":
        row.notes.append(f"run {run_id} {state}")
    say(
        f"  {row.scenario}: {sandbox_seconds:.2f} s at the sandbox ({last - first:.2f} s first task start "
        f"to last end), {stats['statuses'].get('429', 0)} x 429, {stats['media']} stored, "
        f"{len(writes)} state store writes, run {state}"
    )


def kill_mid_task(
    deployment: Deployment, dag_id: str, task_id: str, row: Row, *, started: str, then: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Trigger ``dag_id`` and SIGKILL its task ``task_id`` once its log says ``started`` and its
    requests are in flight (and, with ``then``, once its log says that too); let Airflow retry it
    against the sandbox at the usual latency. The sandbox's stats at the kill, and the run's task
    instances once it ended."""
    assert deployment.sandbox is not None
    run_id, command = deployment.start_trigger(dag_id)
    # The sandbox delays every answer by its latency, its stats too: the task's log says when the
    # requests go out, and KILL_LATENCY_MS leaves them in flight for a while after that line.
    log = deployment.task_log(dag_id, run_id, task_id, 1)

    def logged(line: str) -> bool:
        return line in log.read_text(errors="replace")

    wait_for(f"{task_id}: {started!r}", lambda: logged(started), 300, 0.02)
    pid = wait_for(f"the {task_id} task's process", deployment.task_process, 30, 0.02)
    time.sleep(IN_FLIGHT_WAIT)
    if then is not None:
        wait_for(f"{task_id}: {then!r}", lambda: logged(then), 120, 0.02)
    os.kill(pid, signal.SIGKILL)
    at_kill = deployment.sandbox.stats()
    # The kill needed requests in flight; the retry's reconciliation reads the message list one
    # page per round trip, and at KILL_LATENCY_MS 3,000 numbers took more than 15 minutes.
    http_json(f"{deployment.sandbox.url}/_sandbox/latency", {"ms": LATENCY_MS})
    finish(command)
    state = deployment.wait_run(dag_id, run_id)
    if state != "success":
        row.notes.append(f"run {run_id} {state}")
    return at_kill, deployment.task_instances(dag_id, run_id)


def kill_upload(deployment: Deployment, when: str, row: Row) -> None:
    """Kill the upload's task process when its 30 chunks are all in flight (stored, no answer back
    yet), or when every answer is back and the first has been recorded; then let its retry finish."""
    assert deployment.sandbox is not None
    deployment.sandbox.start(latency_ms=KILL_LATENCY_MS)
    # The task logs each chunk as it records it: the first such line means every answer is back
    # (they left together and take the same time) while the records have just begun.
    at_kill, tis = kill_mid_task(
        deployment,
        "deploy_upload_kill",
        "upload",
        row,
        started="Uploading ",
        then="done (1 of" if when == "answered" else None,
    )
    stats = deployment.sandbox.stats()
    row.add(
        stored_at_kill=at_kill["media"],
        stored=stats["media"],
        extra_copies=stats["media"] - KILL_FILES,
        tries=int(tis[0]["try_number"]),
    )
    say(f"  {row.scenario}: {stats['media']} stored for {KILL_FILES} files, tries {tis[0]['try_number']}")


def kill_send(deployment: Deployment, row: Row) -> None:
    """Kill the send's task process with its 3 requests of 1,000 numbers in flight, then retry."""
    assert deployment.sandbox is not None
    deployment.sandbox.start(latency_ms=KILL_LATENCY_MS)
    # The send logs how long Plivo needs to dispatch it, then sends its three requests at once.
    _, tis = kill_mid_task(deployment, "deploy_send_kill", "send", row, started="Plivo needs")
    stats = deployment.sandbox.stats()
    row.add(
        messages=stats["messages"],
        messaged_twice=stats["messages"] - SEND_NUMBERS,
        tries=int(tis[0]["try_number"]),
    )
    say(
        f"  {row.scenario}: {stats['messages']} messages for {SEND_NUMBERS} numbers, "
        f"tries {tis[0]['try_number']}"
    )


def outage(deployment: Deployment, row: Row) -> None:
    assert deployment.sandbox is not None
    deployment.sandbox.start()
    # The spell starts before the send, so the sensors' first reads fall inside it.
    fault = {"endpoint": "status", "kind": "503", "seconds": OUTAGE_SECONDS}
    try:
        http_json(f"{deployment.sandbox.url}/_sandbox/faults", fault)
    except urllib.error.HTTPError as err:
        if err.code not in {404, 405}:
            raise
        row.notes.append("needs sandbox time faults (POST /_sandbox/faults)")
        say(f"  {row.scenario}: needs sandbox time faults (POST /_sandbox/faults answered {err.code})")
        return
    dag_id = "deploy_sensor_outage"
    run_id = deployment.trigger(dag_id)
    state = deployment.wait_run(dag_id, run_id)
    tis = {ti["task_id"]: ti for ti in deployment.task_instances(dag_id, run_id)}
    stats = deployment.sandbox.stats()
    for mode in ("poke", "deferrable"):
        ti = tis[f"wait_{mode}"]
        row.add(**{f"{mode}_succeeded": float(ti["state"] == "success")})
        row.notes.append(f"{mode}: {ti['state']} on try {ti['try_number']}")
    row.add(responses_503=int(stats["statuses"].get("503", 0)))
    say(f"  {row.scenario}: run {state}; " + "; ".join(row.notes))


# -- set-up and report ----------------------------------------------------------------------------


def make_venv(venv: Path) -> float:
    """Airflow with Celery and PostgreSQL support, asyncpg (``db migrate`` needs it) and the
    package from this tree, pinned by the project's constraints. Returns the seconds it took."""
    started = time.monotonic()
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    if not (venv / "bin" / "airflow").exists():
        say(f"Making {venv} (a few minutes) ...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [
                *pip,
                "-c",
                str(REPO / f"constraints/airflow-{AIRFLOW_VERSION}.txt"),
                f"apache-airflow[celery,postgres]=={AIRFLOW_VERSION}",
                *CELERY_PINS,
                "asyncpg",
                f"{REPO}[sandbox]",
            ],
            check=True,
        )
    subprocess.run([*pip, "--no-deps", "--force-reinstall", str(REPO)], check=True, capture_output=True)
    return time.monotonic() - started


def make_files(folder: Path) -> None:
    for name, count in [*((f"shared{task}", FILES_PER_TASK) for task in range(6)), ("kill", KILL_FILES)]:
        (folder / name).mkdir(parents=True)
        for i in range(count):
            (folder / name / f"{name}-{i:05d}.jpg").write_bytes(os.urandom(4 * 1024))


def render(rows: list[Row], runs: int, setup: float, venv: float) -> str:
    lines = [
        f"Airflow {AIRFLOW_VERSION}, CeleryExecutor (2 workers x 4 slots) on PostgreSQL 15 and Redis; "
        f"sandbox with {LATENCY_MS:g} ms latency, {ACCOUNT_RATE} per {ACCOUNT_PERIOD:g} s and "
        f"{ACCOUNT_IN_FLIGHT} at once. Median of {runs} run(s), (fastest-slowest). "
        f"Deployment up in {setup:.0f} s (venv {venv:.0f} s); load average at the end "
        f"{os.getloadavg()[1]:.1f} on {os.cpu_count()} cores."
        + (
            f" The killed tasks' sandbox answers after {KILL_LATENCY_MS:g} ms, so that the kill lands"
            f" while requests are in flight, and after {LATENCY_MS:g} ms again for the retry."
            if any(row.group == "kill" for row in rows)
            else ""
        ),
        "",
        "| scenario | figure | median (min-max) |",
        "|---|---|---:|",
    ]
    for row in rows:
        name = row.scenario
        for figure, values in row.figures.items():
            digits = 0 if all(float(v).is_integer() for v in values) else 2
            spread = f" ({min(values):.{digits}f}-{max(values):.{digits}f})" if len(values) > 1 else ""
            lines.append(f"| {name} | {figure} | {statistics.median(values):.{digits}f}{spread} |")
            name = ""
        if row.notes:
            lines.append(f"| {name} | notes | {'; '.join(dict.fromkeys(row.notes))} |")
    return "\n".join(lines) + "\n"


def scenarios(args: argparse.Namespace, deployment: Deployment) -> list[tuple[Row, Any]]:
    """The rows the flags ask for, each with the function that measures one run of it."""
    everything = not (args.shared or args.kill or args.outage)
    plan: list[tuple[Row, Any]] = []
    if everything or args.shared:
        for tasks in args.tasks:
            for mode, label in (("adaptive", "adaptive (default)"), ("fixed16", "fixed 16")):
                name = f"{tasks} mapped uploads x 1,000 files, {label}"
                row = Row("shared", f"{name} (bound {bound(tasks * 100):.2f} s)")
                plan.append((row, lambda r, t=tasks, m=mode: shared(deployment, t, m, r)))
    if everything or args.kill:
        for when in ("in flight", "answered"):
            row = Row("kill", f"SIGKILL of an upload of 300 files, 30 chunks {when}, then its retry")
            plan.append((row, lambda r, w=when: kill_upload(deployment, w, r)))
        plan.append(
            (
                Row("kill", "SIGKILL of a send to 3,000 numbers, 3 requests in flight, then its retry"),
                lambda r: kill_send(deployment, r),
            )
        )
    if everything or args.outage:
        plan.append(
            (
                Row("outage", "poke and deferred sensor, no retries, 60 s of 503s on status reads"),
                lambda r: outage(deployment, r),
            )
        )
    return plan


def write_results(rows: list[Row], runs: int, setup: float, venv: float) -> None:
    """Write benchmarks/deployment.md, a section per kind of scenario: a run of some of them
    (``--kill``) replaces only their sections, so that each can be re-run alone."""
    path = HERE / "deployment.md"
    parts = re.split(r"(?m)^<!-- (\w+) -->\n", path.read_text()) if path.exists() else [""]
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    for group in dict.fromkeys(row.group for row in rows):
        mine = [row for row in rows if row.group == group]
        sections[group] = render(mine, runs, setup, venv) + "\n"
    body = "".join(f"<!-- {group} -->\n{sections[group]}" for group in GROUPS if group in sections)
    path.write_text("# Measured in a real deployment (benchmarks/deployment.py)\n\n" + body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (default 3)")
    parser.add_argument("--shared", action="store_true", help="mapped uploads sharing the account")
    parser.add_argument("--tasks", type=int, nargs="+", choices=(3, 6), default=[3, 6], help="with --shared")
    parser.add_argument("--kill", action="store_true", help="SIGKILL mid-upload and mid-send, then retry")
    parser.add_argument("--outage", action="store_true", help="sensors through a 60 s spell of 503s")
    parser.add_argument(
        "--venv", type=Path, default=REPO / f".venv/deploy-{AIRFLOW_VERSION}", help="venv to use or make"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave deployment.md alone")
    args = parser.parse_args()
    if not (PG_BIN / "initdb").exists():
        parser.exit(1, f"{PG_BIN}/initdb is missing: apt-get install -y postgresql-15\n")
    # Ctrl-C and a plain kill both end in the deployment's teardown.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    venv_seconds = make_venv(args.venv)
    files = Path(tempfile.mkdtemp(prefix="plivo-deploy-files-"))
    make_files(files)
    rows: list[Row] = []
    try:
        with Deployment(args.venv, files) as deployment:
            say(f"Deployment up in {deployment.setup_seconds:.0f} s")
            plan = scenarios(args, deployment)
            for _ in range(args.runs):
                for row, measure in plan:
                    # One scenario that fails (a timeout, a run that never ends) still lets the others run.
                    try:
                        measure(row)
                    except (TimeoutError, subprocess.CalledProcessError, OSError) as err:
                        row.notes.append(f"not measured: {err}")
                        say(f"  {row.scenario}: not measured: {err}")
                    if row not in rows:
                        rows.append(row)
            setup = deployment.setup_seconds
            table = render(rows, args.runs, setup, venv_seconds)
    finally:
        shutil.rmtree(files, ignore_errors=True)
    say("\n" + table)
    if not args.no_write:
        write_results(rows, args.runs, setup, venv_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
