"""How the host's database connection binds parameters, for code that sends several statements.

Django's psycopg backend binds on the client by default, so one message may carry several
statements (settings, then a query): one round trip. With ``OPTIONS["server_side_binding"]`` a
message holds one statement, and such code sends them in a transaction of its own instead.
"""

from __future__ import annotations

from django.db import connection

__all__ = ["server_side_binding"]


def server_side_binding() -> bool:
    """Whether the host opted into psycopg's server-side binding (no multi-statement messages)."""
    return bool(connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"))
