"""``plivo-sandbox``: run the Plivo-compatible sandbox server in the foreground.

Faults are scripted with ``--fault`` on any endpoint, by request number, by count or by time
(the sandbox clock, from its start): ``--fault 2:503`` (the 2nd upload), ``--fault status=503x5``
(the first 5 status reads), ``--fault status=503:20s`` (every status read for 20 s). A running
sandbox takes more over HTTP: ``POST /_sandbox/faults`` with ``{"endpoint": "status", "kind":
"503", "seconds": 20}`` (or ``"count": 5``, or ``"request": 3``); ``POST /_sandbox/stats/reset``
starts ``GET /_sandbox/stats`` afresh."""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_provider_plivo.sandbox.credentials import SANDBOX_AUTH_ID, SANDBOX_AUTH_TOKEN
from airflow_provider_plivo.sandbox.faults import FAULT_GRAMMAR, FAULT_KINDS, check_fault_kind, parse_fault

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

    from airflow_provider_plivo.sandbox.faults import ScriptedFault

__all__ = ["DEFAULT_PORT", "main"]

DEFAULT_PORT = 8765
"""Airflow 3's API server takes 8080, so the sandbox keeps clear of it."""
_EXTRA_MODULES = ("python_multipart",)
"""What the ``sandbox`` extra installs, as imported."""
_NOT_GIVEN = object()
"""The default of the flags whose ``none`` means something: the sandbox's own default applies."""


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until interrupted; print the URL and a ready ``AIRFLOW_CONN_PLIVO_DEFAULT`` value."""
    parser = argparse.ArgumentParser(
        prog="plivo-sandbox", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on (default {DEFAULT_PORT}, clear of Airflow's 8080); 0 picks a free one",
    )
    parser.add_argument("--auth-id", default=SANDBOX_AUTH_ID, help="Auth ID clients must use")
    parser.add_argument("--auth-token", default=SANDBOX_AUTH_TOKEN, help="Auth Token clients must use")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay every answer by this much")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="[ENDPOINT=]SPEC",
        type=_fault,
        help=f"script a fault (repeatable): {FAULT_GRAMMAR}; KIND is one of {', '.join(FAULT_KINDS)} "
        "(status reads take all but lost and failed-object, sends all but failed-object)",
    )
    parser.add_argument(
        "--message-fault",
        action="append",
        default=[],
        metavar="N:KIND",
        type=_scripted_fault,
        help="give the Nth send request a fault (repeatable; any KIND but failed-object)",
    )
    parser.add_argument("--fault-rate", type=float, default=0.0, help="chance (0-1) of a random upload fault")
    parser.add_argument("--fault-seed", type=int, default=None, help="seed for the random faults")
    parser.add_argument(
        "--rate-limit",
        type=_rate_limit,
        default=None,
        metavar="N/SECONDS",
        help="answer 429 beyond N API requests per SECONDS, e.g. 300/5 as Plivo does",
    )
    parser.add_argument(
        "--max-in-flight",
        type=int,
        default=None,
        metavar="N",
        help="answer 429 beyond N API requests at once, e.g. 100 as Plivo does",
    )
    parser.add_argument("--hang-seconds", type=float, default=30.0, help="how long a 'hang' fault lasts")
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=10.0,
        help="seconds a client may stay silent mid-request before it is cut off (default 10)",
    )
    parser.add_argument(
        "--request-deadline",
        type=float,
        default=30.0,
        help="seconds a whole request (line, headers and body) may take, however it trickles (default 30)",
    )
    parser.add_argument(
        "--message-list-rate-limit",
        default=_NOT_GIVEN,
        type=_optional_rate_limit,
        metavar="N/SECONDS|none",
        help="answer 429 beyond N message lists (GET Message/) per SECONDS (default 20/60, as Plivo)",
    )
    parser.add_argument(
        "--mps",
        default=_NOT_GIVEN,
        type=_mps,
        metavar="RATE|sms=RATE,mms=RATE|none",
        help="outbound messages per second, for every type or per type (default sms=5,mms=0.25, "
        "Plivo's signup speeds); none sends every message at once",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="run the messages' lifecycle (dispatch, expiry, delivery) this many times faster (default 1)",
    )
    parser.add_argument(
        "--utc-offset",
        default=_NOT_GIVEN,
        type=_utc_offset,
        metavar="+HH:MM|none",
        help="the account's offset for message times (default +05:30, as Plivo's recorded times); "
        "none writes UTC with six fraction digits; a negative one is written --utc-offset=-03:00",
    )
    parser.add_argument(
        "--clock-offset",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="run the sandbox clock (its Date header, its times) this far ahead of the host's; "
        "negative (written --clock-offset=-180): behind",
    )
    parser.add_argument(
        "--kinder",
        action="store_true",
        help="turn off every habit of production Plivo the sandbox shows by default (the flags "
        "above still win)",
    )
    args = parser.parse_args(argv)
    try:
        from airflow_provider_plivo.sandbox.server import PlivoSandbox
    except ImportError as err:
        if (err.name or "").partition(".")[0] not in _EXTRA_MODULES:
            raise
        parser.exit(1, f"plivo-sandbox: {err}\n")

    try:
        sandbox = PlivoSandbox(
            auth_id=args.auth_id,
            auth_token=args.auth_token,
            host=args.host,
            port=args.port,
            latency_ms=args.latency_ms,
            fault_rate=args.fault_rate,
            fault_seed=args.fault_seed,
            message_faults=dict(args.message_fault),
            hang_seconds=args.hang_seconds,
            rate_limit=args.rate_limit,
            max_in_flight=args.max_in_flight,
            read_timeout=args.read_timeout,
            request_deadline=args.request_deadline,
            time_scale=args.time_scale,
            clock_offset=timedelta(seconds=args.clock_offset),
            kinder=args.kinder,
            **_given(args, "message_list_rate_limit", "mps", "utc_offset"),
        )
    except ValueError as err:  # a value argparse's types let through, checked by the sandbox
        parser.error(str(err))

    for fault in args.fault:
        sandbox.api.script_fault(fault)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=sandbox.stop).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Plivo sandbox listening on {sandbox.url}", flush=True)
    print(f"export AIRFLOW_CONN_PLIVO_DEFAULT='{sandbox.connection_json()}'", flush=True)
    sandbox.serve_forever()
    return 0


def _fault(text: str) -> ScriptedFault:
    try:
        return parse_fault(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _scripted_fault(text: str) -> tuple[int, str]:
    number, _, kind = text.partition(":")
    try:
        return int(number), check_fault_kind(kind)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N:KIND, e.g. 2:503 ({err})") from None


def _rate_limit(text: str) -> tuple[int, float]:
    requests, _, seconds = text.partition("/")
    try:
        return int(requests), float(seconds)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected N/SECONDS, e.g. 300/5") from None


def _optional_rate_limit(text: str) -> tuple[int, float] | None:
    return None if text.lower() == "none" else _rate_limit(text)


def _mps(text: str) -> float | dict[str, float] | None:
    try:
        if text.lower() == "none":
            return None
        if "=" not in text:
            return float(text)
        pairs = (item.partition("=") for item in text.split(","))
        return {kind.strip(): float(rate) for kind, _, rate in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected RATE, sms=RATE,mms=RATE or none") from None


def _utc_offset(text: str) -> timedelta | None:
    if text.lower() == "none":
        return None
    match = re.fullmatch(r"([+-])(\d\d):(\d\d)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: expected +HH:MM, e.g. +05:30, or none")
    offset = timedelta(hours=int(match[2]), minutes=int(match[3]))
    return -offset if match[1] == "-" else offset


def _given(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """The options among ``names`` given on the command line: the rest keep the sandbox's default."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not _NOT_GIVEN}


if __name__ == "__main__":
    sys.exit(main())
