"""Airflow glue shared by the task-facing classes: their base, fail-fast, templating, and the
task-state ledgers that make retries resume. Not public API; may change in any release."""
