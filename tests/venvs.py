"""Fresh virtual environments for install tests that still see this interpreter's packages.

``python -m venv --system-site-packages`` exposes the *base* interpreter's packages, so when
the suite itself runs inside a virtual environment (how most people run it) the child sees
neither Django nor torch. Instead the child gets a ``.pth`` file naming this interpreter's own
site-packages folders: the wheel installed into the child comes first on ``sys.path``, the
dependencies (torch, Django…) are found behind it, and nothing is downloaded. A ``.pth`` named
there is not processed itself, so an editable install of this checkout stays invisible.
"""

from __future__ import annotations

import site
import subprocess
import sys
import sysconfig
from pathlib import Path


def parent_site_packages() -> list[str]:
    """The folders this interpreter imports installed packages from (venv or not)."""
    folders = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()]
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    return list(dict.fromkeys(f for f in folders if Path(f).is_dir()))


def child_venv(path: Path) -> Path:
    """Create a virtual environment at ``path`` that sees our packages; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, capture_output=True)
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(purelib, "_parent_site_packages.pth").write_text("\n".join(parent_site_packages()) + "\n")
    return python
