"""Who may talk to the web view besides token holders: the Host rule, the same-origin rule, and the headers.

Threat model (README "Live view: threat model"): on loopback every local process can connect, and so can
any web page the user opens, through the user's own browser. A page cannot read our responses (no CORS
headers are ever sent), but it can send "simple" requests (a form POST) and, by DNS rebinding, make its
own name resolve to 127.0.0.1 so that reading *is* same-origin. Hence:
- `Host` must name the bound address, loopback, or a configured name: a rebound name never matches;
- a state-changing request (POST /snapshot) needs the token, or proof that it came from our own page:
  a custom header (which a cross-origin page can only send after a CORS preflight we never answer) and,
  when the browser says where it came from (Origin, Sec-Fetch-Site), that it is us;
- every response forbids framing, MIME sniffing and referrers (the token may be in the page's URL).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Iterable, Mapping, Optional, Set

SAME_ORIGIN_HEADER = "X-Edgeunet-Request"  # the page's fetch() sends it; a cross-site form cannot
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                                "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def allowed_hosts(bound: str, extra: Iterable[str] = ()) -> Set[str]:
    """Host names (lower case, no port) that may appear in `Host`; IP literals are checked by `host_allowed` itself."""
    names = {"localhost", bound.strip("[]").lower()}
    if bound in ("0.0.0.0", "::", ""):
        hostname = socket.gethostname().lower()
        names |= {hostname, f"{hostname}.local"}
    names |= {n.strip().lower().rstrip(".") for n in extra if n.strip()}
    return names


def split_host(header: str) -> str:
    """'Example.com:8080' -> 'example.com'; '[::1]:80' -> '::1'."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(header: Optional[str], bound: str, names: Set[str]) -> bool:
    """True when `Host` cannot be a rebound name: absent (not a browser), an allowed name, or a fitting IP literal."""
    if header is None:
        return True
    host = split_host(header).rstrip(".")
    if host in names:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name we were not told about: DNS rebinding looks exactly like this
    if bound in ("0.0.0.0", "::", ""):
        return True  # listening everywhere: any of our addresses, typed by the user; a literal cannot be rebound
    try:
        return address == ipaddress.ip_address(bound) or address.is_loopback and ipaddress.ip_address(bound).is_loopback
    except ValueError:
        return False


def same_origin(headers: Mapping[str, str]) -> Optional[str]:
    """None when a state-changing request without a token provably came from our own page, else why not."""
    if SAME_ORIGIN_HEADER.lower() not in {k.lower() for k in headers}:
        return f"send the {SAME_ORIGIN_HEADER} header (the page does) or the token"
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return f"a {site} request"
    origin = headers.get("Origin")
    host = headers.get("Host")
    if origin is not None and host is not None:
        bare = origin.split("://", 1)[-1].rstrip("/").lower()
        if bare != host.strip().lower():
            return "the Origin is not this server"
    return None
