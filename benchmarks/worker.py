"""One measurement in a fresh process: upload a folder with our hook or the official SDK.

Run by ``benchmarks/run.py``; prints one JSON line. Memory is the peak resident size reached
during the upload minus the resident size after a warm-up upload, with the kernel's peak
counter reset in between (``/proc/self/clear_refs``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path


def rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def ours(files: list[str], warmup: str, max_concurrency: int | None) -> dict[str, object]:
    from airflow_provider_plivo.exceptions import PlivoError
    from airflow_provider_plivo.hooks.plivo import PlivoHook

    hook = PlivoHook() if max_concurrency is None else PlivoHook(max_concurrency=max_concurrency)
    hook.upload_media([warmup])
    reset_peak_rss()
    before = rss_kib("VmRSS")
    started = time.perf_counter()
    try:
        uploaded, error = len(hook.upload_media(files)), ""
    except PlivoError as err:
        uploaded, error = 0, str(err).splitlines()[0]
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "uploaded": uploaded,
        "error": error,
        "before": before,
        "max_concurrency": hook.max_concurrency,
    }


def sdk(files: list[str], warmup: str, url: str, auth_id: str, auth_token: str) -> dict[str, object]:
    """The official SDK as its users drive it: one upload call per 10 files, one after another."""
    import plivo
    import plivo.rest.client

    # The SDK resets its base URI to this constant before every upload.
    plivo.rest.client.PLIVO_API_BASE_URI = f"{url}/v1/Account"
    client = plivo.RestClient(auth_id, auth_token)
    with contextlib.redirect_stdout(io.StringIO()):  # the SDK prints every path it uploads
        client.media.upload([warmup])
        reset_peak_rss()
        before = rss_kib("VmRSS")
        started = time.perf_counter()
        uploaded, error = 0, ""
        try:
            for i in range(0, len(files), 10):
                client.media.upload(files[i : i + 10])
                uploaded += len(files[i : i + 10])
        except Exception as err:  # the SDK raises bare exceptions on any non-2xx answer
            error = f"{type(err).__name__}: {str(err)[:80]}"
    return {"seconds": time.perf_counter() - started, "uploaded": uploaded, "error": error, "before": before}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("impl", choices=["ours", "sdk"])
    parser.add_argument("folder")
    parser.add_argument("--warmup", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--auth-id", required=True)
    parser.add_argument("--auth-token", required=True)
    parser.add_argument("--max-concurrency", type=int, default=None, help="default: the hook's own")
    args = parser.parse_args()
    files = sorted(str(p) for p in Path(args.folder).iterdir())
    os.environ["AIRFLOW_CONN_PLIVO_DEFAULT"] = json.dumps(
        {"conn_type": "plivo", "login": args.auth_id, "password": args.auth_token, "host": args.url}
    )
    if args.impl == "ours":
        result = ours(files, args.warmup, args.max_concurrency)
    else:
        result = sdk(files, args.warmup, args.url, args.auth_id, args.auth_token)
    result["peak_growth_mib"] = (rss_kib("VmHWM") - int(str(result.pop("before")))) / 1024
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
