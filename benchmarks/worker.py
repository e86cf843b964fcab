"""One measurement in a fresh process: upload a folder with our hook or the official SDK.

Run by ``benchmarks/run.py``; prints one JSON line. Memory is the peak resident size reached
during the upload minus the resident size after a warm-up upload, with the kernel's peak
counter reset in between (``/proc/self/clear_refs``).

Without ``--warmup``, the process gets ready (imports, connection; no warm-up, which would count
against the account), says ``ready`` on stderr and starts only when ``run.py`` writes a line to
its stdin, so that several processes upload at once to one sandbox.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

SAMPLE_SECONDS = 0.01
"""How often the hook's concurrency and rate are sampled for the chart."""


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def start(warmup: str | None, upload: Any) -> int:
    """Warm up with ``upload([warmup])``, or wait for run.py's go; then reset the memory peak and
    return the resident size to measure growth from."""
    if warmup is None:
        print("ready", file=sys.stderr, flush=True)
        sys.stdin.readline()
    else:
        upload([warmup])
    reset_peak_rss()
    return rss_kib("VmRSS")


def ours(files: list[str], warmup: str | None, hook_params: dict[str, Any]) -> dict[str, object]:
    from airflow_provider_plivo.exceptions import PlivoError
    from airflow_provider_plivo.hooks.plivo import PlivoHook

    hook = PlivoHook(**hook_params)
    _ = hook.client.session  # fetch the connection before the clock starts
    samples: list[tuple[float, int, int | None, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_SECONDS):
            limiter = hook.limiter
            samples.append(
                (time.perf_counter() - started, limiter.concurrency, limiter.rate, limiter.throttles)
            )

    before = start(warmup, hook.upload_media)
    started = time.perf_counter()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        uploaded, error = len(hook.upload_media(files)), ""
    except PlivoError as err:
        uploaded, error = 0, str(err).splitlines()[0]
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {
        "seconds": seconds,
        "uploaded": uploaded,
        "error": error,
        "before": before,
        "max_concurrency": hook.settings.max_concurrency,
        "settled_concurrency": hook.limiter.concurrency,
        "throttles": hook.limiter.throttles,
        "samples": samples,
    }


def sdk(files: list[str], warmup: str | None, url: str, auth_id: str, auth_token: str) -> dict[str, object]:
    """The official SDK as its users drive it: one upload call per 10 files, one after another."""
    import plivo
    import plivo.rest.client

    # The SDK resets its base URI to this constant before every upload.
    plivo.rest.client.PLIVO_API_BASE_URI = f"{url}/v1/Account"
    client = plivo.RestClient(auth_id, auth_token)

    def upload(paths: list[str]) -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # the SDK prints every path it uploads
            client.media.upload(paths)

    before = start(warmup, upload)
    started = time.perf_counter()
    uploaded, error = 0, ""
    try:
        for i in range(0, len(files), 10):
            upload(files[i : i + 10])
            uploaded += len(files[i : i + 10])
    except Exception as err:  # the SDK raises bare exceptions on any non-2xx answer
        error = f"{type(err).__name__}: {str(err)[:80]}"
    return {"seconds": time.perf_counter() - started, "uploaded": uploaded, "error": error, "before": before}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("impl", choices=["ours", "sdk"])
    parser.add_argument("folder")
    parser.add_argument("--warmup", help="a file to upload first; without it, wait for a go on stdin")
    parser.add_argument("--url", required=True)
    parser.add_argument("--auth-id", required=True)
    parser.add_argument("--auth-token", required=True)
    parser.add_argument("--hook-params", default="{}", help="PlivoHook arguments, as JSON")
    args = parser.parse_args()
    files = sorted(str(p) for p in Path(args.folder).iterdir())
    os.environ["AIRFLOW_CONN_PLIVO_DEFAULT"] = json.dumps(
        {"conn_type": "plivo", "login": args.auth_id, "password": args.auth_token, "host": args.url}
    )
    if args.impl == "ours":
        result = ours(files, args.warmup, json.loads(args.hook_params))
    else:
        result = sdk(files, args.warmup, args.url, args.auth_id, args.auth_token)
    result["peak_growth_mib"] = (rss_kib("VmHWM") - int(str(result.pop("before")))) / 1024
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
