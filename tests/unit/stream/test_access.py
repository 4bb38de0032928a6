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


def test_a_token_file_is_made_once_with_mode_600_and_reused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "state" / "token"
    lines: list = []
    first = access.token_from_file(path, lines.append)
    assert len(first) >= 24 and oct(path.stat().st_mode & 0o777) == "0o600"
    assert len(lines) == 1 and first not in lines[0]  # where, never what
    assert access.token_from_file(path, lines.append) == first and len(lines) == 1


@pytest.mark.parametrize(("mode", "content", "match"), [(0o644, "long-enough-token", "readable by others"),
                                                        (0o600, "short", "no usable token"),
                                                        (0o600, "has a space", "no usable token")])
def test_a_bad_token_file_is_one_line(tmp_path, mode: int, content: str, match: str) -> None:  # type: ignore[no-untyped-def]
    from edgeunet.core.errors import EdgeUnetError

    path = tmp_path / "token"
    path.write_text(content)
    path.chmod(mode)
    with pytest.raises(EdgeUnetError, match=match):
        access.token_from_file(path)


def test_a_symlinked_token_file_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from edgeunet.core.errors import EdgeUnetError

    (tmp_path / "real").write_text("long-enough-token")
    (tmp_path / "real").chmod(0o600)
    (tmp_path / "token").symlink_to(tmp_path / "real")
    with pytest.raises(EdgeUnetError, match="not a regular file"):
        access.token_from_file(tmp_path / "token")


def test_the_source_can_come_from_the_environment_or_a_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from edgeunet.core.errors import EdgeUnetError

    monkeypatch.setenv("CAM_URL", "rtsp://u:p@ss@cam/x")
    assert access.source_from("env:CAM_URL") == "rtsp://u:p@ss@cam/x"
    (tmp_path / "cam").write_text("rtsp://u:p@ss@cam/y\n# comment\n")
    assert access.source_from(f"@{tmp_path / 'cam'}") == "rtsp://u:p@ss@cam/y"
    assert access.source_from("video.mp4") == "video.mp4"
    with pytest.raises(EdgeUnetError, match="CAM_NONE"):
        access.source_from("env:CAM_NONE")
    with pytest.raises(EdgeUnetError, match="cannot read"):
        access.source_from(f"@{tmp_path / 'missing'}")
