"""Apache Airflow provider for Plivo: upload MMS media, send messages, wait for delivery."""

__version__ = "0.2.0.dev0"
