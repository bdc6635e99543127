"""The Host names the pages answer to, and how a browser on this machine reaches them.

A page that answers any Host can be read by a web page whose DNS name is rebound to 127.0.0.1,
so the pages answer only the names a user chose (LTV_WEB_ALLOWED_HOSTS) or, by default, the
loopback names plus the name they are bound to.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

LOOPBACK_HOST_NAMES = ("localhost", "127.0.0.1", "[::1]")
# Bind addresses that mean "every interface": they name no host a browser would send.
ANY_ADDRESS = ("", "0.0.0.0", "::", "[::]")
HOST_NAME = re.compile(r"[a-z0-9._-]+")


def host_name(name: str) -> str:
    """How a browser writes the host in its Host header: lower case, IPv6 in brackets."""
    name = name.strip().lower()
    try:
        return f"[{ipaddress.IPv6Address(name.removeprefix('[').removesuffix(']'))}]"
    except ValueError:
        return name


def parse_host_names(parts: Iterable[str]) -> tuple[str, ...]:
    """Host names as a browser sends them; a ValueError says which one is not a host name."""
    names = tuple(host_name(n) for n in parts if n.strip())
    for name in names:
        ipv6 = name.startswith("[") and name.endswith("]") and ":" in name  # see host_name
        wildcard = name.startswith("*.") and "*" not in name[1:]
        if name != "*" and not wildcard and not ipv6 and not HOST_NAME.fullmatch(name):
            raise ValueError(
                f"{name!r} is not a host name; expected names separated by commas, without "
                "scheme or port (e.g. localhost,ltv.example.lan, or *.example.lan for every "
                "name in a domain)"
            )
    return names


def allowed_hosts(chosen: tuple[str, ...], bind_host: str) -> tuple[str, ...]:
    """The names chosen, else the loopback names plus the bound name (if it is one)."""
    if chosen:
        return chosen
    own = host_name(bind_host)
    if own in ANY_ADDRESS or own in LOOPBACK_HOST_NAMES:
        return LOOPBACK_HOST_NAMES
    return (*LOOPBACK_HOST_NAMES, own)


def browser_url(bind_host: str, port: int) -> str:
    """An address a browser on this machine can use: an every-interface bind (0.0.0.0) is
    shown as 127.0.0.1, a name the pages answer to."""
    own = host_name(bind_host)
    host = "127.0.0.1" if own in ANY_ADDRESS else own
    return f"http://{host}:{port}"
