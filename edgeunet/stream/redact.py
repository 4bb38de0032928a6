"""One redaction rule for every place an address or a message is shown: logs, errors, HUD, stats JSON, the web page.

Why one function: a camera URL such as rtsp://admin:pass@10.0.0.5/live carries a password, and each
place that prints the address by its own rule is a place that eventually leaks it.

URLs are read the way FFmpeg (`av_url_split`) and GStreamer (`gst_uri_from_string`) read them: the
*last* `@` of the authority ends the userinfo, so `rtsp://u:p@ss@cam/` has the password `p@ss`, not
`p`. Query parameters are masked when their key *looks like* a credential (token, access_token,
X-Amz-Signature, passphrase, sessionid, ...), not only when it is on a short list; so are `key=value`
words of a GStreamer pipeline (`user-pw=...`) and `Bearer` values. The rule errs towards masking:
a false *** costs nothing, a missed password is a leak.
"""

from __future__ import annotations

import re

MASK = "***"
SECRET_WORDS = ("token", "pass", "pwd", "secret", "key", "auth", "sig", "cred", "session", "cookie", "bearer", "jwt",
                "otp", "ticket", "private", "hmac", "salt", "nonce")
SECRET_EXACT = ("p", "pw", "psk", "pin", "sid", "sas", "k")
HARMLESS = ("keyframe", "keyintmax", "keyint", "passthrough", "bypass", "signalling", "signaling", "authority")  # GStreamer words
SECRET_KEYS = SECRET_WORDS  # the old public name
_KEY = re.compile("|".join(SECRET_WORDS), re.IGNORECASE)
_URL = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)([^\s\"'<>`]*)")
_PAIR = re.compile(r"(?<![\w/.-])([A-Za-z][\w.-]*)(=)([^\s&\"'<>`;,!]+)")
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{6,}", re.IGNORECASE)


def secret_key(key: str) -> bool:
    """True for a query or property name that may hold a credential (case-insensitive, any separator)."""
    bare = key.strip().lower()
    squashed = bare.replace("-", "").replace("_", "")
    if squashed in HARMLESS:
        return False
    parts = re.split(r"[-_.]", bare)
    return any(part in SECRET_EXACT for part in parts) or _KEY.search(squashed) is not None


def _redact_url(scheme: str, rest: str) -> str:
    """One URL (without its scheme): userinfo up to the last '@' before the query, then credential-like parameters."""
    head, mark, tail = _split_query(rest)
    at = head.rfind("@")
    if at >= 0:
        user, sep, _password = head[:at].partition(":")
        head = f"{user}{':' + MASK if sep else ''}@{head[at + 1:]}"
    if mark == "?":
        query, hash_mark, fragment = tail.partition("#")
        tail = "&".join(_mask_pair(item) for item in query.split("&")) + hash_mark + fragment
    return scheme + head + mark + tail


def _split_query(rest: str) -> tuple:
    for i, char in enumerate(rest):
        if char in "?#":
            return rest[:i], char, rest[i + 1:]
    return rest, "", ""


def _mask_pair(item: str) -> str:
    key, sep, _value = item.partition("=")
    return f"{key}={MASK}" if sep and secret_key(key) else item


def _mask_word(match: "re.Match[str]") -> str:
    return f"{match.group(1)}={MASK}" if secret_key(match.group(1)) else match.group(0)


def redact_text(text: object) -> str:
    """Any message with every URL's password, every credential-like `key=value` and every `Bearer x` masked."""
    raw = str(text)
    out = _URL.sub(lambda m: _redact_url(m.group(1), m.group(2)), raw)
    out = _PAIR.sub(_mask_word, out)
    return _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", out)


def redact_uri(text: str) -> str:
    """`rtsp://user:secret@host/x?token=t` -> `rtsp://user:***@host/x?token=***`; text without secrets comes back unchanged."""
    return redact_text(text)
