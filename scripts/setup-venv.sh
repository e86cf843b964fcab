#!/usr/bin/env bash
# Usage: [PYTHON=python3.X] scripts/setup-venv.sh AIRFLOW_VERSION
# Create (or reuse) .venv/airflow-VERSION with that Airflow, the test and dev tools, and this
# package built from the working tree and installed non-editable. Prints the venv's path.
# constraints/airflow-VERSION.txt pins every dependency to a set that passed the tests (3.3.2 on
# Python 3.11 to 3.13, 3.1.8 on Python 3.10, as scripts/test.sh pairs them), as
# Airflow's own constraint files do: installs are repeatable and pip does not backtrack.
# Refresh one with: .venv/airflow-VERSION/bin/pip freeze --exclude airflow-provider-plivo
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:?usage: scripts/setup-venv.sh AIRFLOW_VERSION}
venv=.venv/airflow-$version
log=$venv.install.log
mkdir -p .venv
python=${PYTHON:-python3}
# A venv made by another Python is made again: CI pairs each Airflow with a Python of its own.
if [ -x "$venv/bin/python" ] && [ "$("$venv/bin/python" -c 'import sys; print(sys.version[:4])')" != \
    "$("$python" -c 'import sys; print(sys.version[:4])')" ]; then
    rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
{
    "$venv/bin/pip" install --disable-pip-version-check -c "constraints/airflow-$version.txt" \
        "apache-airflow==$version" ".[test,dev]" &&
    "$venv/bin/pip" install --disable-pip-version-check --force-reinstall --no-deps .
} >"$log" 2>&1 || { grep -v '^WARNING: Location' "$log" | tail -40 >&2; echo "install failed: $log" >&2; exit 1; }
echo "$venv"
