"""Benchmarks: our hook against the official plivo SDK's sequential loop, side by side in one run.

Every measurement runs in a fresh process (benchmarks/worker.py) against a sandbox running in
its own process (``plivo-sandbox``), so the sandbox's stored bytes never count as our memory.
Prints a table, writes it to benchmarks/results.md and a chart to benchmarks/throughput.png.
Run with ``bash scripts/benchmark.sh``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
AUTH_ID, AUTH_TOKEN = "MABENCH0000000000000", "bench-token"
ENV = {
    **os.environ,
    "AIRFLOW_HOME": tempfile.mkdtemp(prefix="plivo-bench-airflow-home-"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
}


@dataclass
class Result:
    scenario: str
    impl: str
    files: int
    requests: int
    responses_429: int
    seconds: float
    peak_growth_mib: float
    error: str

    @property
    def files_per_second(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0


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

    def stats(self) -> dict[str, object]:
        answer: dict[str, object] = requests.get(f"{self.url}/_sandbox/stats", timeout=10).json()
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


def measure(
    scenario: str, impl: str, folder: Path, warmup: Path, *sandbox_flags: str, concurrency: int | None = None
) -> Result:
    with Sandbox(*sandbox_flags) as sandbox:
        command = [
            sys.executable,
            str(HERE / "worker.py"),
            impl,
            str(folder),
            f"--warmup={warmup}",
            f"--url={sandbox.url}",
            f"--auth-id={AUTH_ID}",
            f"--auth-token={AUTH_TOKEN}",
        ]
        if concurrency is not None:
            command.append(f"--max-concurrency={concurrency}")
        output = subprocess.run(command, capture_output=True, text=True, env=ENV, check=True).stdout
        run = json.loads(output.strip().splitlines()[-1])
        stats = sandbox.stats()
    statuses = stats["statuses"]
    assert isinstance(statuses, dict)
    result = Result(
        scenario=scenario,
        impl=impl
        if impl == "sdk"
        else f"ours ({'default, ' if concurrency is None else ''}concurrency {run['max_concurrency']})",
        files=run["uploaded"],
        requests=int(str(stats["requests"])) - 1,
        responses_429=int(statuses.get("429", 0)),
        seconds=run["seconds"],
        peak_growth_mib=run["peak_growth_mib"],
        error=run["error"],
    )
    print(f"  {result.scenario:<34} {result.impl:<24} {result.seconds:6.2f} s", flush=True)
    return result


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
    work = Path(tempfile.mkdtemp(prefix="plivo-bench-"))
    warmup = make_files(work / "warmup", 1, 1024) / "m00000.jpg"
    small = make_files(work / "small", 400, 4 * 1024)
    many = make_files(work / "many", 4000, 4 * 1024)
    large = make_files(work / "large", 60, 1_900_000)
    results: list[Result] = []
    print("Running (each line is a fresh process):", flush=True)

    latency = ("--latency-ms", "150")
    results.append(measure("400 x 4 KB, 150 ms latency", "sdk", small, warmup, *latency))
    sweep = [
        measure("400 x 4 KB, 150 ms latency", "ours", small, warmup, *latency, concurrency=c)
        for c in (1, 2, 4, 8, 16, 32)
    ]
    results.append(measure("400 x 4 KB, 150 ms latency", "ours", small, warmup, *latency))

    limited = ("--rate-limit", "300/5")
    results.append(measure("4,000 x 4 KB, server limit 300/5 s", "sdk", many, warmup, *limited))
    results.append(measure("4,000 x 4 KB, server limit 300/5 s", "ours", many, warmup, *limited))

    slow = ("--latency-ms", "50")
    results.append(measure("60 x 1.9 MB, 50 ms latency", "sdk", large, warmup, *slow))
    results.append(measure("60 x 1.9 MB, 50 ms latency", "ours", large, warmup, *slow))

    imports = import_overhead()
    table = render(results, imports)
    print("\n" + table)
    (HERE / "results.md").write_text(table)
    chart(sweep, results[0])
    return 0


def render(results: list[Result], imports: dict[str, float]) -> str:
    sdk_seconds = {r.scenario: r.seconds for r in results if r.impl == "sdk" and not r.error}
    lines = [
        "| scenario | client | files uploaded | requests | 429s | seconds | files/s "
        "| peak memory growth | vs SDK |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        ratio = (
            f"{sdk_seconds[r.scenario] / r.seconds:.1f}x"
            if r.scenario in sdk_seconds and r.impl != "sdk"
            else ""
        )
        note = f" ({r.error})" if r.error else ""
        lines.append(
            f"| {r.scenario} | {'official SDK loop' if r.impl == 'sdk' else r.impl}{note} | {r.files:,} | "
            f"{r.requests:,} | {r.responses_429} | {r.seconds:.2f} | {r.files_per_second:,.0f} | "
            f"{r.peak_growth_mib:.1f} MiB | {ratio} |"
        )
    lines += ["", "| import (median of 7 fresh processes) | ms |", "|---|---:|"]
    lines += [f"| {name} | {ms:.1f} |" for name, ms in imports.items()]
    return "\n".join(lines) + "\n"


def chart(sweep: list[Result], sdk: Result) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    concurrency = [int(r.impl.split()[-1].rstrip(")")) for r in sweep]
    figure, axes = plt.subplots(figsize=(7, 4))
    axes.plot(concurrency, [r.files_per_second for r in sweep], marker="o", label="PlivoHook.upload_media")
    axes.axhline(sdk.files_per_second, color="grey", linestyle="--", label="official SDK, sequential loop")
    axes.set_xscale("log", base=2)
    axes.set_xticks(concurrency, [str(c) for c in concurrency])
    axes.set_xlabel("max_concurrency (requests in flight)")
    axes.set_ylabel("files per second")
    axes.set_title("400 files of 4 KB, 10 per request, 150 ms latency")
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(HERE / "throughput.png", dpi=110)


if __name__ == "__main__":
    sys.exit(main())
