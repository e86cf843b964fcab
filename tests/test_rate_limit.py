"""The sandbox refuses what Plivo would refuse: beyond N requests at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from airflow_provider_plivo.sandbox import PlivoSandbox


def test_sandbox_answers_429_beyond_max_in_flight_and_refused_requests_hold_no_place():
    with PlivoSandbox(max_in_flight=2, latency_ms=300) as sandbox:
        url = f"{sandbox.url}/v1/Account/{sandbox.auth_id}/Media/"
        auth = (sandbox.auth_id, sandbox.auth_token)
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda _: requests.get(url, auth=auth, timeout=5), range(4)))
        after = requests.get(url, auth=auth, timeout=5)

    assert sorted(answer.status_code for answer in answers) == [200, 200, 429, 429]
    assert all("Retry-After" not in answer.headers for answer in answers)
    assert after.status_code == 200
