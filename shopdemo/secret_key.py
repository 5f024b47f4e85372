"""The demo's SECRET_KEY: generated once per data folder, kept in a file only its owner can read.

    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or load_or_create_secret_key(VAR_DIR / "secret_key")

A key written in the source is the same on every clone, so anyone could forge the demo's
sessions and signed cookies; a generated one is unique to the installation and survives restarts
(sessions stay valid). The file is created atomically with mode 0600: a web process and a Celery
worker starting together agree on one key.
"""

from __future__ import annotations

import os
import secrets
import uuid
from pathlib import Path

__all__ = ["load_or_create_secret_key"]

# 64 random bytes: Django's check wants at least 50 characters and 5 distinct ones.
KEY_BYTES = 64


def load_or_create_secret_key(path: str | os.PathLike[str]) -> str:
    """The key stored in ``path``; a new random one (written there, mode 0600) when there is none."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _create(path, secrets.token_urlsafe(KEY_BYTES))
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 50:
        raise RuntimeError(f"{path} holds no usable secret key; delete it to have a new one generated.")
    return key


def _create(path: Path, key: str) -> None:
    """Write ``key`` to a private temporary file, then link it into place unless another process won."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        try:
            os.link(temporary, path)  # atomic, and never replaces a key that is already there
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)
