"""The one rule for network outputs (web://, mjpeg://, rtsp://): loopback is open, anything else needs a token."""

from __future__ import annotations

import pytest

from edgeunet.stream import access


@pytest.mark.parametrize(("host", "required"), [("127.0.0.1", False), ("localhost", False), ("::1", False), ("0.0.0.0", True),
                                               ("10.0.0.5", True), ("jetson.local", True)])
def test_token_required_beyond_loopback(host: str, required: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(access.ASSUME_REMOTE_ENV, raising=False)
    assert access.token_required(host) is required


def test_overrides_only_make_it_stricter_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(access.ASSUME_REMOTE_ENV, "1")
    assert access.token_required("127.0.0.1") and access.token_required("127.0.0.1", override=False)
    monkeypatch.delenv(access.ASSUME_REMOTE_ENV)
    assert access.token_required("127.0.0.1", override=True) and not access.token_required("0.0.0.0", override=False)


def test_new_tokens_are_long_and_fresh() -> None:
    first, second = access.new_token(), access.new_token()
    assert len(first) >= 32 and first != second
