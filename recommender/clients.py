"""Who is asking: a request's network address, and the salted hash the search log counts shoppers by.

    client_address(request)            # "203.0.113.7": REMOTE_ADDR, the peer that connected
    client_hash(user_id=7)             # one-way, salted with SECRET_KEY: one account, one shopper
    client_hash(address="203.0.113.7") # anonymous shoppers: one network address, one shopper

Sessions are free to make, so counting "distinct sessions" guards nothing: a script without
cookies is a new session on every request. Accounts and network addresses cost an attacker
something. ``X-Forwarded-For`` is only read when the host declares how many proxies it runs
behind (``REST_FRAMEWORK["NUM_PROXIES"]``, DRF's own setting); otherwise any client could
write any address into it. IPv6 addresses count per /64 network (what one subscriber gets).
The raw address is never stored: ``client_hash`` is an HMAC keyed with ``SECRET_KEY``.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.utils.crypto import salted_hmac

__all__ = ["client_address", "client_hash"]

SALT = "recommender.clients"
# One IPv6 subscriber usually holds a whole /64: counting single addresses would let one
# shopper count as billions.
IPV6_PREFIX = 64


def _num_proxies() -> int:
    """How many proxies the host says sit in front of Django (0: trust no forwarded header)."""
    value = (getattr(settings, "REST_FRAMEWORK", None) or {}).get("NUM_PROXIES")
    try:
        return max(0, int(value)) if value is not None else 0
    except (TypeError, ValueError):
        return 0


def client_address(request: Any) -> str:
    """The client's address: the connecting peer, or the one the host's own proxies forwarded."""
    meta = getattr(request, "META", None) or {}
    proxies = _num_proxies()
    if proxies:
        forwarded = [part.strip() for part in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if part.strip()]
        if forwarded:
            return forwarded[-min(proxies, len(forwarded))][:64]
    return str(meta.get("REMOTE_ADDR") or "")[:64]


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
