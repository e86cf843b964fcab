#!/usr/bin/env bash
# Set up and run the benchmarks: our hook against the official plivo SDK's sequential loop,
# side by side, against the sandbox, alone and three tasks sharing one account; each figure the
# median of 5 runs (takes about 12 minutes; run it on an idle machine). Then the send side
# (benchmarks/messaging.py). Writes benchmarks/results.md, benchmarks/throughput.png,
# benchmarks/shared_account.png and benchmarks/messaging.md.
# Extra arguments go to benchmarks/run.py, e.g. --runs 3 or --only "sharing".
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(scripts/setup-venv.sh 3.3.2)
"$venv/bin/pip" install --disable-pip-version-check -q ".[benchmark]" 2>&1 | grep -v '^WARNING: Location' || true
"$venv/bin/python" benchmarks/run.py "$@"
"$venv/bin/python" benchmarks/messaging.py
