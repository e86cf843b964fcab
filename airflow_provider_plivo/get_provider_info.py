"""Provider metadata Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_plivo import __version__
from airflow_provider_plivo.transport.account import DEFAULT_TIMEOUT

__all__ = ["MPS_FIELD_DESCRIPTION", "UI_FIELD_BEHAVIOUR", "get_provider_info"]

MPS_FIELD_DESCRIPTION = (
    "The account's outbound messages per second, as Plivo's console shows them (SMS Overview): "
    'one number for every type, or per type, e.g. {"sms": 5, "mms": 0.25}. Empty: Plivo\'s signup '
    "figures, 5 SMS and 0.25 MMS. Sends too large to dispatch within the message expiry go in waves."
)

UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "port", "extra"],
    "relabeling": {"login": "Auth ID", "password": "Auth Token", "host": "API base URL"},
    "placeholders": {
        "login": "MAXXXXXXXXXXXXXXXXXX",
        "host": "https://api.plivo.com (leave empty for Plivo itself)",
        "timeout": f"{DEFAULT_TIMEOUT:g}",
        "mps": '{"sms": 5, "mms": 0.25}',
    },
}


def get_provider_info() -> dict[str, Any]:
    """Describe the provider: its connection type, form, hooks, operators, sensors and triggers."""
    return {
        "package-name": "airflow-provider-plivo",
        "name": "Plivo",
        "description": (
            "Upload MMS media to `Plivo <https://www.plivo.com/>`__, send messages, wait for delivery."
        ),
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Plivo",
                "external-doc-url": "https://www.plivo.com/docs/messaging/api/",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "Plivo", "python-modules": ["airflow_provider_plivo.hooks.plivo"]}],
        "operators": [
            {
                "integration-name": "Plivo",
                "python-modules": [
                    "airflow_provider_plivo.operators.media",
                    "airflow_provider_plivo.operators.message",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "Plivo", "python-modules": ["airflow_provider_plivo.sensors.message"]}
        ],
        "triggers": [
            {"integration-name": "Plivo", "python-modules": ["airflow_provider_plivo.triggers.message"]}
        ],
        "notifications": ["airflow_provider_plivo.notifications.plivo.PlivoNotifier"],
        "connection-types": [
            {
                "connection-type": "plivo",
                "hook-class-name": "airflow_provider_plivo.hooks.plivo.PlivoHook",
                "hook-name": "Plivo",
                "conn-fields": {
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "description": "Seconds any one request to Plivo may take.",
                        "schema": {
                            "type": ["number", "null"],
                            "default": DEFAULT_TIMEOUT,
                            "exclusiveMinimum": 0,
                        },
                    },
                    # A string: one number, or a JSON object of them per type; the hook reads both
                    # (and a number or object written into the extra directly).
                    "mps": {
                        "label": "Messages per second (MPS)",
                        "description": MPS_FIELD_DESCRIPTION,
                        "schema": {"type": ["string", "null"]},
                    },
                },
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
