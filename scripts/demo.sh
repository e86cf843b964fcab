#!/usr/bin/env bash
# Set up and run the demo: the example DAGs example_plivo_media_upload and
# example_plivo_mms_campaign against the bundled Plivo sandbox, with Airflow on embedded SQLite in
# a throwaway AIRFLOW_HOME. Ends with a summary: the media ID of each file, each message's state.
# Exits 1 when a DAG run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== installing Airflow and the provider (first run: a few minutes)"
venv=$(scripts/setup-venv.sh 3.3.2)
"$venv/bin/python" scripts/demo.py
