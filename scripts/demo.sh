#!/usr/bin/env bash
# Set up and run the demo: the example DAG against the bundled Plivo sandbox, with Airflow on
# embedded SQLite in a throwaway AIRFLOW_HOME. Prints the media IDs the upload returned.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== installing Airflow and the provider (first run: about a minute)"
venv=$(scripts/setup-venv.sh 3.3.2)
"$venv/bin/python" scripts/demo.py
