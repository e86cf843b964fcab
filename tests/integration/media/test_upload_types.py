"""A type Plivo refuses as an upload is refused by name before any request, against the sandbox:
it used to go up with its chunk, and Plivo's 400 failed the chunk's other files with it."""

from __future__ import annotations

import pytest

from airflow_provider_plivo.exceptions import PlivoMediaValidationError
from airflow_provider_plivo.hooks.plivo import PlivoHook


def test_a_wav_among_images_is_named_and_nothing_is_uploaded(plivo_sandbox, make_media, tmp_path):
    voice = tmp_path / "voice.wav"
    voice.write_bytes(b"RIFF....WAVEfmt ")

    with pytest.raises(PlivoMediaValidationError) as raised:
        PlivoHook().upload_media([*make_media(9), str(voice)])

    assert [p.split(":")[0] for p in raised.value.problems] == [str(voice)]
    assert "MMS can still carry it from a server of your own with media_urls" in str(raised.value)
    assert not [r for r in plivo_sandbox.requests if r.method == "POST"]
