"""Benchmarks: our hook against the official plivo SDK's sequential loop, side by side in one run.

Every measurement runs in fresh processes (benchmarks/worker.py) against a sandbox running in
its own process (``plivo-sandbox``), so the sandbox's stored bytes never count as our memory.
Each figure is the median of ``--runs`` runs (clients taking turns, so that noise on this
shared machine falls on all of them), with the fastest and slowest beside it. Prints a table,
writes it to benchmarks/results.md and charts to benchmarks/throughput.png and
benchmarks/shared_account.png. Run with ``bash scripts/benchmark.sh``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
AUTH_ID, AUTH_TOKEN = "MABENCH0000000000000", "bench-token"
ENV = {
    **os.environ,
    "AIRFLOW_HOME": tempfile.mkdtemp(prefix="plivo-bench-airflow-home-"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
}
ACCOUNT_RATE, ACCOUNT_PERIOD, ACCOUNT_IN_FLIGHT = 300, 5.0, 100
"""Plivo's account limits, which the limited scenarios' sandbox enforces."""
FIXED_16 = {"adaptive": False, "max_concurrency": 16}
"""The hook as it was before adaptation: 16 in flight and 300 per 5 s, fixed."""
FIXED_8 = {"adaptive": False, "max_concurrency": 8}
"""Half of that: six tasks of 8 stay under the account's 100 at once."""


@dataclass
class Scenario:
    name: str
    files: int
    latency_ms: float
    account_limits: bool
    """Whether the sandbox enforces Plivo's 300 per 5 s (and with several tasks, 100 at once)."""
    tasks: int = 1
    limits_decide: bool = True
    """Whether round trips and the account's limits decide the time, not the bytes on the wire."""

    @property
    def requests(self) -> int:
        return math.ceil(self.files / 10) * self.tasks

    @property
    def bound(self) -> float | None:
        """The least time the account's limits allow: a round trip, plus 5 s for every 300
        requests after the first 300 (the issue's "physical bound"); None where the wire decides."""
        if not self.limits_decide:
            return None
        windows = math.ceil(self.requests / ACCOUNT_RATE) - 1 if self.account_limits else 0
        bound = windows * ACCOUNT_PERIOD + self.latency_ms / 1000
        if self.tasks > 1:
            # Beside that, 100 at once: a round trip per 100 requests (300 take three, not one).
            bound = max(bound, math.ceil(self.requests / ACCOUNT_IN_FLIGHT) * self.latency_ms / 1000)
        return bound

    def sandbox_flags(self) -> list[str]:
        flags = ["--latency-ms", str(self.latency_ms)]
        if self.account_limits:
            flags += ["--rate-limit", f"{ACCOUNT_RATE}/{ACCOUNT_PERIOD:g}"]
            if self.tasks > 1:
                flags += ["--max-in-flight", str(ACCOUNT_IN_FLIGHT)]
        return flags


@dataclass
class Run:
    seconds: float
    stored: int
    requests: int
    responses_429: int
    peak_growth_mib: float
    error: str
    samples: list[list[list[float]]] = field(default_factory=list)
    """Per task: (seconds, concurrency, rate) samples of our hook's limiter."""
    task_seconds: list[float] = field(default_factory=list)
    """Each task's own time, from its go to its last answer."""

    @property
    def slowest_to_fastest(self) -> float:
        """The slowest task's time over the fastest's (1 for one task)."""
        return max(self.task_seconds) / min(self.task_seconds) if self.task_seconds else 1.0


@dataclass
class Result:
    scenario: Scenario
    client: str
    runs: list[Run] = field(default_factory=list)

    def median(self, name: str) -> float:
        return float(statistics.median(getattr(run, name) for run in self.runs))

    def spread(self, name: str, digits: int) -> str:
        values = [float(getattr(run, name)) for run in self.runs]
        return f"{self.median(name):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"

    @property
    def median_run(self) -> Run:
        return sorted(self.runs, key=lambda run: run.seconds)[len(self.runs) // 2]


class Sandbox:
    """``plivo-sandbox`` in its own process, with the given flags."""

    def __init__(self, *flags: str) -> None:
        command = [
            str(BIN / "plivo-sandbox"),
            "--port",
            "0",
            "--auth-id",
            AUTH_ID,
            "--auth-token",
            AUTH_TOKEN,
        ]
        self.process = subprocess.Popen([*command, *flags], stdout=subprocess.PIPE, text=True, env=ENV)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().split()[-1]

    def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = requests.get(f"{self.url}/_sandbox/stats", timeout=10).json()
        return answer

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def make_files(folder: Path, count: int, size: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"m{i:05d}.jpg").write_bytes(os.urandom(size))
    return folder


def worker(impl: str, folder: Path, url: str, hook_params: dict[str, Any] | None) -> list[str]:
    command = [
        sys.executable,
        str(HERE / "worker.py"),
        impl,
        str(folder),
        f"--url={url}",
        f"--auth-id={AUTH_ID}",
        f"--auth-token={AUTH_TOKEN}",
    ]
    return command + ([f"--hook-params={json.dumps(hook_params)}"] if hook_params is not None else [])


def measure(
    scenario: Scenario, impl: str, folders: list[Path], warmup: Path, hook_params: dict[str, Any] | None
) -> Run:
    """One run: one task with a warm-up, or several tasks started at once on one sandbox (then the
    time is the sandbox's, from the first request's arrival to the last answer)."""
    with Sandbox(*scenario.sandbox_flags()) as sandbox:
        if scenario.tasks == 1:
            command = [*worker(impl, folders[0], sandbox.url, hook_params), f"--warmup={warmup}"]
            output = subprocess.run(command, capture_output=True, text=True, env=ENV, check=True).stdout
            results = [json.loads(output.strip().splitlines()[-1])]
        else:
            results = together([worker(impl, folder, sandbox.url, hook_params) for folder in folders])
        stats = sandbox.stats()
    warmups = 1 if scenario.tasks == 1 else 0
    run = Run(
        seconds=results[0]["seconds"] if scenario.tasks == 1 else stats["api_seconds"],
        stored=stats["media"] - warmups,
        requests=stats["requests"] - warmups,
        responses_429=int(stats["statuses"].get("429", 0)),
        peak_growth_mib=max(result["peak_growth_mib"] for result in results),
        error="; ".join(result["error"] for result in results if result["error"]),
        samples=[result.get("samples", []) for result in results],
        task_seconds=[result["seconds"] for result in results],
    )
    expected = scenario.files * scenario.tasks
    if not run.error and run.stored != expected:
        run.error = f"{run.stored} media stored for {expected} files"
    return run


def together(commands: list[list[str]]) -> list[dict[str, Any]]:
    """Start every command, wait until each says ``ready`` (on stderr), then let them all go at
    once. Their output (the hook's log, then the result) goes to files: a pipe read one process
    after another would fill and stall the others' logging mid-upload."""
    with tempfile.TemporaryDirectory() as folder:
        outputs = [Path(folder) / f"worker{n}.out" for n in range(len(commands))]
        processes = []
        for command, output in zip(commands, outputs, strict=True):
            with output.open("w") as out:
                processes.append(
                    subprocess.Popen(
                        command, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE, text=True, env=ENV
                    )
                )
        for process in processes:
            assert process.stderr is not None
            while process.stderr.readline().strip() != "ready":
                if process.poll() is not None:
                    raise RuntimeError(f"worker exited with {process.returncode} before it was ready")
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        for process in processes:
            process.communicate()
        if any(process.returncode for process in processes):
            raise RuntimeError("a worker failed")
        return [json.loads(output.read_text().strip().splitlines()[-1]) for output in outputs]


def import_overhead(runs: int = 7) -> dict[str, float]:
    """Median milliseconds, over fresh processes, of importing our DAG-facing modules in a DAG
    file that already imports Airflow's DAG and operator bases; and of those bases themselves."""
    probe = (
        "import time; t0 = time.perf_counter(); import airflow.sdk; t1 = time.perf_counter();"
        "from airflow.sdk import DAG, BaseHook, BaseOperator, BaseSensorOperator; t2 = time.perf_counter();"
        "import airflow_provider_plivo.operators.media, airflow_provider_plivo.hooks.plivo;"
        "t3 = time.perf_counter(); print(t1 - t0, t2 - t1, t3 - t2)"
    )
    samples = []
    for _ in range(runs):
        # From outside the repository, so that the installed package is measured, not the sources.
        out = subprocess.run(
            [sys.executable, "-c", probe],
            capture_output=True,
            text=True,
            env=ENV,
            check=True,
            cwd=ENV["AIRFLOW_HOME"],
        )
        samples.append([float(x) * 1000 for x in out.stdout.split()[-3:]])
    return {
        "import airflow.sdk": statistics.median(s[0] for s in samples),
        "Airflow's DAG and operator bases": statistics.median(s[1] for s in samples),
        "our operator and hook, on top": statistics.median(s[2] for s in samples),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument(
        "--only", default="", help="run only scenarios whose name contains this (no files are written)"
    )
    parser.add_argument("--client", default="", help="with --only: run only clients whose name contains this")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="plivo-bench-"))
    warmup = make_files(work / "warmup", 1, 1024) / "m00000.jpg"
    small = make_files(work / "small", 400, 4 * 1024)
    many = make_files(work / "many", 4000, 4 * 1024)
    large = make_files(work / "large", 60, 1_900_000)
    shared = [make_files(work / f"shared{task}", 2000, 4 * 1024) for task in range(3)]
    sharers = [make_files(work / f"sharer{task}", 1000, 4 * 1024) for task in range(6)]

    alone = Scenario("400 x 4 KB, 150 ms latency", 400, 150, account_limits=False)
    limited = Scenario("4,000 x 4 KB, server limit 300/5 s", 4000, 0, account_limits=True)
    big = Scenario("60 x 1.9 MB, 50 ms latency", 60, 50, account_limits=False, limits_decide=False)
    account = Scenario(
        "3 tasks x 2,000 x 4 KB sharing one account (300/5 s, 100 at once), 150 ms latency",
        2000,
        150,
        account_limits=True,
        tasks=3,
    )
    sharing = {
        tasks: Scenario(
            f"{tasks} tasks x 1,000 x 4 KB sharing one account (300/5 s, 100 at once), 150 ms latency",
            1000,
            150,
            account_limits=True,
            tasks=tasks,
        )
        for tasks in (3, 6)
    }
    # (scenario, folders, [(client, impl, hook params)])
    plan: list[tuple[Scenario, list[Path], list[tuple[str, str, dict[str, Any] | None]]]] = [
        (
            alone,
            [small],
            [
                ("official SDK loop", "sdk", None),
                ("ours, fixed 16 (before)", "ours", FIXED_16),
                ("ours, adaptive (default)", "ours", {}),
            ],
        ),
        (
            limited,
            [many],
            [
                ("official SDK loop", "sdk", None),
                ("ours, fixed 16 (before)", "ours", FIXED_16),
                ("ours, adaptive (default)", "ours", {}),
            ],
        ),
        (
            big,
            [large],
            [("official SDK loop", "sdk", None), ("ours, adaptive (default)", "ours", {})],
        ),
        (
            account,
            shared,
            [
                ("official SDK loop, 3 processes", "sdk", None),
                ("ours, fixed 16 (before), 3 processes", "ours", FIXED_16),
                ("ours, adaptive (default), 3 processes", "ours", {}),
            ],
        ),
        *(
            (
                scenario,
                sharers[:tasks],
                [
                    (f"ours, fixed 16 (before), {tasks} processes", "ours", FIXED_16),
                    (f"ours, fixed 8, {tasks} processes", "ours", FIXED_8),
                    (f"ours, adaptive (default), {tasks} processes", "ours", {}),
                ],
            )
            for tasks, scenario in sharing.items()
        ),
    ]
    sweep_sizes = (1, 4, 16, 40, 100)
    sweep = [] if args.only else [(size, Result(alone, f"ours, fixed {size}")) for size in sweep_sizes]
    results: list[Result] = []
    print(f"Running, {args.runs} runs per figure (each line is one run in fresh processes):", flush=True)
    for scenario, folders, clients in plan:
        if args.only not in scenario.name:
            continue
        chosen = [c for c in clients if args.client in c[0]]
        rows = [Result(scenario, client) for client, _, _ in chosen]
        results += rows
        for _ in range(args.runs):
            for row, (client, impl, params) in zip(rows, chosen, strict=True):
                run = measure(scenario, impl, folders, warmup, params)
                row.runs.append(run)
                print(
                    f"  {scenario.name[:40]:<40} {client:<40} {run.seconds:6.2f} s "
                    f"{run.responses_429:4d} x 429, slowest/fastest task {run.slowest_to_fastest:4.2f} "
                    f"{run.error}",
                    flush=True,
                )
    for _ in range(args.runs):
        for size, row in sweep:
            row.runs.append(
                measure(alone, "ours", [small], warmup, {"adaptive": False, "max_concurrency": size})
            )
    table = render(results)
    if args.only:
        print("\n" + table)
        return 0
    table += render_sweep(sweep)
    imports = import_overhead()
    table += "\n| import (median of 7 fresh processes) | ms |\n|---|---:|\n"
    table += "".join(f"| {name} | {ms:.1f} |\n" for name, ms in imports.items())
    print("\n" + table)
    (HERE / "results.md").write_text(table)
    throughput_chart(sweep, results)
    shared_account_chart(next(r for r in results if r.scenario is sharing[6] and "adaptive" in r.client))
    return 0


def render(results: list[Result]) -> str:
    runs = len(results[0].runs) if results else 0
    lines = [
        f"Median of {runs} runs (fastest-slowest). Times of the shared-account rows are the "
        "sandbox's, from the first request's arrival to the last answer.",
        "",
        "| scenario | client | files stored | requests | 429s | seconds | x bound | slowest/fastest task "
        "| files/s | peak memory growth | vs SDK |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        sdk = next((s for s in results if s.scenario is r.scenario and "SDK" in s.client), None)
        bound = r.scenario.bound
        files = r.scenario.files * r.scenario.tasks
        errors = sorted({run.error for run in r.runs if run.error})
        note = f" (stopped: {'; '.join(errors)})" if errors else ""
        seconds = r.median("seconds")
        scenario = r.scenario.name + (f" (bound {bound:.2f} s)" if bound else "")
        # A run that stopped early has no speed to compare.
        finished = not errors
        x_bound = f"{seconds / bound:.1f}x" if bound and finished else ""
        files_per_second = f"{files / seconds:,.0f}" if finished else ""
        compared = sdk is not None and r is not sdk and finished and not any(run.error for run in sdk.runs)
        vs_sdk = f"{sdk.median('seconds') / seconds:.1f}x" if sdk is not None and compared else ""
        ratio = r.spread("slowest_to_fastest", 2) if r.scenario.tasks > 1 else ""
        lines.append(
            f"| {scenario} | {r.client}{note} | {r.median('stored'):,.0f} | {r.median('requests'):,.0f} "
            f"| {r.spread('responses_429', 0)} | {r.spread('seconds', 2)} | {x_bound} | {ratio} "
            f"| {files_per_second} | {r.median('peak_growth_mib'):.1f} MiB | {vs_sdk} |"
        )
    return "\n".join(lines) + "\n"


def render_sweep(sweep: list[tuple[int, Result]]) -> str:
    bound = sweep[0][1].scenario.bound or 1.0
    lines = [
        f"\n| {sweep[0][1].scenario.name}, fixed concurrency (adaptive=False) | seconds | x bound |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| max_concurrency={size} | {r.spread('seconds', 2)} | {r.median('seconds') / bound:.1f}x |"
        for size, r in sweep
    ]
    return "\n".join(lines) + "\n"


def throughput_chart(sweep: list[tuple[int, Result]], results: list[Result]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = sweep[0][1].scenario.files
    adaptive = next(r for r in results if r.scenario is sweep[0][1].scenario and "adaptive" in r.client)
    sdk = next(r for r in results if r.scenario is sweep[0][1].scenario and "SDK" in r.client)
    sizes = [size for size, _ in sweep]
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(
        sizes,
        [files / r.median("seconds") for _, r in sweep],
        marker="o",
        label="PlivoHook.upload_media, fixed concurrency",
    )
    axes.axhline(files / adaptive.median("seconds"), color="tab:green", label="PlivoHook, adaptive (default)")
    axes.axhline(
        files / sdk.median("seconds"), color="grey", linestyle="--", label="official SDK, sequential loop"
    )
    axes.axhline(files / 0.15, color="black", linestyle=":", label="one round trip (the bound)")
    axes.set_xscale("log")
    axes.set_xticks(sizes, [str(size) for size in sizes])
    axes.set_xlabel("max_concurrency with adaptive=False (requests in flight)")
    axes.set_ylabel("files per second (median)")
    axes.set_title("400 files of 4 KB, 10 per request, 150 ms latency")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(HERE / "throughput.png", dpi=110)


def shared_account_chart(result: Result) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = result.median_run
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5.5), sharex=True)
    for task, samples in enumerate(run.samples, start=1):
        seconds = [s[0] for s in samples]
        top.step(seconds, [s[1] for s in samples], where="post", label=f"task {task}")
        bottom.step(seconds, [s[2] for s in samples], where="post", label=f"task {task}")
    top.axhline(ACCOUNT_IN_FLIGHT, color="black", linestyle=":", label="account: 100 at once")
    bottom.axhline(ACCOUNT_RATE, color="black", linestyle=":", label="account: 300 per 5 s")
    top.set_ylabel("requests in flight allowed")
    bottom.set_ylabel("requests per 5 s allowed")
    bottom.set_xlabel("seconds since the task started")
    scenario = result.scenario
    top.set_title(
        f"{scenario.tasks} tasks x {scenario.files:,} files on one account: {run.seconds:.1f} s, "
        f"{run.responses_429} x 429 (the run of median time)"
    )
    for axes in (top, bottom):
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small", loc="upper right")
    figure.tight_layout()
    figure.savefig(HERE / "shared_account.png", dpi=110)


if __name__ == "__main__":
    sys.exit(main())
