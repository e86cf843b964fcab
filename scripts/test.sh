#!/usr/bin/env bash
# Set up and run every check: ruff, mypy and the import-linter contracts, then the whole pytest
# suite on the newest and the oldest Airflow this provider supports. Extra arguments go to
# pytest, which runs one worker per core (PYTEST_WORKERS=0 for none).
set -euo pipefail
cd "$(dirname "$0")/.."
newest=3.3.2
oldest=3.1.8
for version in ${AIRFLOW_VERSIONS:-$newest $oldest}; do
    echo "== Airflow $version: installing"
    venv=$(scripts/setup-venv.sh "$version")
    if [ "$version" = "$newest" ]; then
        echo "== ruff, mypy and the import contracts"
        "$venv/bin/ruff" check .
        "$venv/bin/ruff" format --check .
        "$venv/bin/mypy"
        PYTHONPATH=. "$venv/bin/lint-imports"
    fi
    echo "== Airflow $version: pytest"
    "$venv/bin/pytest" -n "${PYTEST_WORKERS:-auto}" "$@"
done
