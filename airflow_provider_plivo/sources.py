"""The public home of :func:`media_batches` for DAG authors (the README's import path); the
media files themselves are :mod:`airflow_provider_plivo.media.sources`."""

from airflow_provider_plivo.media.sources import media_batches

__all__ = ["media_batches"]
