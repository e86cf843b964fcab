"""Registration with Airflow: provider info, connection type, connection form."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib import metadata, resources
from pathlib import Path

import jsonschema

from airflow_provider_plivo.get_provider_info import get_provider_info
from airflow_provider_plivo.hooks.plivo import PlivoHook


def airflow_cli(*args: str) -> str:
    airflow = os.path.join(os.path.dirname(sys.executable), "airflow")
    result = subprocess.run([airflow, *args], capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


def test_provider_info_matches_airflows_schema():
    schema = json.loads(resources.files("airflow").joinpath("provider_info.schema.json").read_text())

    jsonschema.validate(get_provider_info(), schema)


def test_airflow_lists_the_provider_and_its_hook():
    providers = json.loads(airflow_cli("providers", "list", "--output", "json"))
    hooks = json.loads(airflow_cli("providers", "hooks", "--output", "json"))

    assert "airflow-provider-plivo" in [p["package_name"] for p in providers]
    plivo = [h for h in hooks if h["connection_type"] == "plivo"]
    assert [h["class"] for h in plivo] == ["airflow_provider_plivo.hooks.plivo.PlivoHook"]


def test_connection_form_relabels_and_hides_fields_the_same_both_ways():
    declared = get_provider_info()["connection-types"][0]["ui-field-behaviour"]
    legacy = PlivoHook.get_ui_field_behaviour()

    assert (
        legacy["relabeling"]
        == declared["relabeling"]
        == {
            "login": "Auth ID",
            "password": "Auth Token",
            "host": "API base URL",
        }
    )
    assert legacy["hidden_fields"] == declared["hidden-fields"]
    assert "timeout" in get_provider_info()["connection-types"][0]["conn-fields"]


def test_the_installed_distribution_carries_the_apache_license():
    dist = metadata.distribution("airflow-provider-plivo")
    (license_file,) = [file for file in dist.files or [] if file.name == "LICENSE"]
    text = license_file.read_text()

    assert dist.metadata["License-Expression"] == "Apache-2.0"
    assert dist.metadata.get_all("License-File") == ["LICENSE"]
    assert text == (Path(__file__).resolve().parents[3] / "LICENSE").read_text()
    # The text at https://www.apache.org/licenses/LICENSE-2.0.txt, byte for byte.
    assert hashlib.sha256(text.encode()).hexdigest() == (
        "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
    )
