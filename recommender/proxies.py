"""Which address a request really comes from, and which proxies may say otherwise.

``X-Forwarded-For`` is written by whoever sends the request: a client can put any address in it.
It only means something when the host's own reverse proxies append to it, so the app reads it
only when the host declares them in ``RECOMMENDER["TRUSTED_PROXIES"]``:

    None                          the peer address (REMOTE_ADDR) is the client; the header is ignored
    1                             one proxy in front: the last X-Forwarded-For address is the client
    ["10.0.0.0/8", "127.0.0.1"]   proxies by address: walking from the peer leftwards through the
                                  header, the first address that is not a listed proxy is the client

The list form is the safer one: a request that reaches the app directly (not through a listed
proxy) is counted by its own address whatever the header says. Throttles call
:func:`client_address`; when the header arrives while no proxy is declared it is noted in the cache
(one write a day at most), logged once, and reported by the system check ``recommender.W002``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from recommender.conf import app_settings

__all__ = [
    "FORWARDED_SEEN_KEY",
    "Proxies",
    "client_address",
    "forwarded_header_seen",
    "note_forwarded_header",
    "parse_proxies",
    "trusted_proxies",
]

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# None: no proxy; an int: how many proxies; networks: the proxies' addresses.
Proxies = int | tuple[Network, ...] | None

FORWARDED_SEEN_KEY = "recommender:x-forwarded-for-seen"
# Long enough that a weekly `manage.py check` still sees it; short enough that it goes away
# once the proxies are declared (or the header stops coming).
FORWARDED_SEEN_SECONDS = 7 * 24 * 3600


def trusted_proxies() -> Proxies:
    """``RECOMMENDER["TRUSTED_PROXIES"]``, parsed; ImproperlyConfigured when unusable."""
    return parse_proxies(app_settings.TRUSTED_PROXIES)


def declared_proxies() -> Proxies:
    """The proxies the host declared: ``TRUSTED_PROXIES``, else DRF's ``NUM_PROXIES``, else None."""
    proxies = trusted_proxies()
    if proxies is None:
        drf_count = (getattr(settings, "REST_FRAMEWORK", None) or {}).get("NUM_PROXIES")
        proxies = parse_proxies(drf_count)
    return proxies


def parse_proxies(value: Any) -> Proxies:
    """A TRUSTED_PROXIES value as :data:`Proxies`; ImproperlyConfigured when unusable."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ImproperlyConfigured("RECOMMENDER['TRUSTED_PROXIES'] must not be negative.")
        return value
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ImproperlyConfigured(
            "RECOMMENDER['TRUSTED_PROXIES'] must be None, a number of proxies, or a list of proxy "
            f"addresses or networks; got {value!r}."
        )
    networks = []
    for item in value:
        try:
            networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"RECOMMENDER['TRUSTED_PROXIES']: {item!r} is not an IP address or network."
            ) from exc
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a header entry ("1.2.3.4", "1.2.3.4:80", "[::1]:80"), or None."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else text[1:]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]  # IPv4 with a port
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(meta: Mapping[str, Any], proxies: Proxies) -> str:
    """The client's address of a request whose ``META`` is ``meta``, trusting only ``proxies``."""
    peer = str(meta.get("REMOTE_ADDR") or "")
    forwarded = str(meta.get("HTTP_X_FORWARDED_FOR") or "")
    if not forwarded or not proxies:  # None, 0 or an empty list: nobody may speak for the client
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()] + [peer]
    if isinstance(proxies, int):
        # Each proxy appends the address it was reached from: the client's is proxies + 1 from the right.
        return hops[-min(proxies + 1, len(hops))]
    for hop in reversed(hops):
        address = _ip(hop)
        if address is None or not any(address in network for network in proxies):
            return hop  # the first hop that no trusted proxy vouches for
    return hops[0]


def note_forwarded_header() -> None:
    """Remember (in the shared cache) that X-Forwarded-For arrived while no proxy is declared.

    One ``cache.add`` per such request, so the throttle stays cheap; the warning is logged by
    whichever request adds the flag, so once per flag lifetime rather than per request.
    """
    try:
        added = cache.add(FORWARDED_SEEN_KEY, timezone.now().isoformat(), FORWARDED_SEEN_SECONDS)
    except Exception:  # noqa: BLE001 - a cache outage must not fail the request
        return
    if added:
        logger.warning(
            "Requests carry X-Forwarded-For but RECOMMENDER['TRUSTED_PROXIES'] is not set: the header is "
            "ignored and clients are counted by their peer address (your proxy's, if there is one)."
        )


def forwarded_header_seen() -> str | None:
    """When X-Forwarded-For was last noted without declared proxies (ISO time), else None."""
    try:
        return cache.get(FORWARDED_SEEN_KEY)
    except Exception:  # noqa: BLE001 - a check must not fail on a cache outage
        return None
