#!/usr/bin/env bash
# Set up and run every check: ruff, mypy and the import-linter contracts, then the whole pytest
# suite on the newest Airflow with the newest Python and on the oldest Airflow with the oldest
# Python this provider supports (pyproject's requires-python), so that what only an old Python
# lacks (e.g. fromisoformat of 5 fraction digits, before 3.11) fails here. Extra arguments go to
# pytest, which runs one worker per core (PYTEST_WORKERS=0 for none).
set -euo pipefail
cd "$(dirname "$0")/.."
newest=3.3.2 newest_python=3.13
oldest=3.1.8 oldest_python=3.10

# pythonX.Y on PATH, else pyenv's; fails loudly rather than testing on another Python.
python_for() {
    local found
    found=$(command -v "python$1" || true)
    # pyenv's shim is on PATH for every version but runs only the selected ones.
    if [ -n "$found" ] && ! "$found" --version >/dev/null 2>&1; then
        found=
    fi
    if [ -z "$found" ] && command -v pyenv >/dev/null; then
        found=$(ls -d "$(pyenv root)"/versions/"$1".*/bin/"python$1" 2>/dev/null | sort -V | tail -1)
    fi
    [ -n "$found" ] || { echo "Python $1 is needed (on PATH or through pyenv)" >&2; exit 1; }
    echo "$found"
}

for version in ${AIRFLOW_VERSIONS:-$newest $oldest}; do
    case $version in
        "$newest") python=$(python_for "$newest_python") ;;
        "$oldest") python=$(python_for "$oldest_python") ;;
        *) python=python3 ;;
    esac
    echo "== Airflow $version on $("$python" --version): installing"
    venv=$(PYTHON=$python scripts/setup-venv.sh "$version")
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
