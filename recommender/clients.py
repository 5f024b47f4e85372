"""Who is asking: a request's network address, and the salted hash the search log counts shoppers by.

    client_address(request)            # "203.0.113.7": REMOTE_ADDR, the peer that connected
    client_hash(user_id=7)             # one-way, salted with SECRET_KEY: one account, one shopper
    client_hash(address="203.0.113.7") # anonymous shoppers: one network address, one shopper

Sessions are free to make, so counting "distinct sessions" guards nothing: a script without
cookies is a new session on every request. Accounts and network addresses cost an attacker
something. ``X-Forwarded-For`` is only read from the proxies the host declares
(``RECOMMENDER["TRUSTED_PROXIES"]``, see :mod:`recommender.proxies`, the same rule the API
throttles follow); otherwise any client could write any address into it. IPv6 addresses count per /64 network (what one subscriber gets).
The raw address is never stored: ``client_hash`` is an HMAC keyed with ``SECRET_KEY``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.utils.crypto import salted_hmac

from recommender import proxies

__all__ = ["client_address", "client_hash"]

SALT = "recommender.clients"
# One IPv6 subscriber usually holds a whole /64: counting single addresses would let one
# shopper count as billions.
IPV6_PREFIX = 64


def client_address(request: Any) -> str:
    """The client's address: the connecting peer, or the one the host's declared proxies forwarded."""
    meta = getattr(request, "META", None) or {}
    return proxies.client_address(meta, proxies.declared_proxies())[:64]


def _network(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:203.0.113.7 is 203.0.113.7
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def client_hash(*, user_id: Any = None, address: str = "") -> str:
    """A shopper's one-way id for counting: the account when known, else the network ('' for neither)."""
    if user_id is not None:
        ident = f"user:{user_id}"
    elif address and address.strip():
        ident = f"net:{_network(address)}"
    else:
        return ""
    return salted_hmac(SALT, ident, algorithm="sha256").hexdigest()[:32]
