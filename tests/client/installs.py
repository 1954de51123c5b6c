"""Clean virtualenvs of an app server for the install tests (no broker, no store).

An app server's virtualenv has its own packages before spur arrives; an app
may well call one of them ``schemas``, ``streams`` or ``sinks``. The app
here is a distribution of its own (``app-of-a-customer``) with exactly those
three packages, each holding a marker module, so that pip tracks its files
as it tracks spur's: installing or uninstalling either must leave the other
alone (tests/client/test_import_names.py).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What the Dockerfile copies: the package's sources and its metadata.
SOURCES = ("pyproject.toml", "README.md", "schemas", "streams", "sinks", "spur")
# The app's own top-level packages: spur's directory names.
APP_PACKAGES = ("schemas", "streams", "sinks")
APP_DISTRIBUTION = "app-of-a-customer"


def run(
    *argv: str | Path, timeout: float = 600, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, timeout=timeout, check=False,
        cwd=cwd,
    )  # fmt: skip


def marker(package: str) -> str:
    """What the app's ``<package>.marker.OWNER`` holds."""
    return f"the app's own {package}"


def copy_sources(target: Path) -> Path:
    """The project as ``pip install`` gets it from the Dockerfile: no symlinks, no caches."""
    target.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, target / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, target / name)
    return target


def write_app(target: Path) -> Path:
    """The app's project: packages ``schemas``, ``streams``, ``sinks``, a marker in each."""
    target.mkdir()
    (target / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["setuptools>=69"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        "[project]\n"
        f'name = "{APP_DISTRIBUTION}"\n'
        'version = "1.0"\n\n'
        "[tool.setuptools]\n"
        f"packages = {list(APP_PACKAGES)!r}\n".replace("'", '"')
    )
    for package in APP_PACKAGES:
        (target / package).mkdir()
        (target / package / "__init__.py").write_text(f'"""{marker(package)}."""\n')
        (target / package / "marker.py").write_text(f"OWNER = {marker(package)!r}\n")
    return target


def make_venv(root: Path) -> Path:
    """A fresh virtualenv (no system site-packages) under ``root``; its ``bin`` directory."""
    made = run(sys.executable, "-m", "venv", root / "venv")
    assert made.returncode == 0, made.stderr
    return root / "venv" / "bin"


def pip(bin_dir: Path, *args: str | Path) -> None:
    done = run(bin_dir / "python", "-m", "pip", *args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def site_packages(bin_dir: Path) -> Path:
    probe = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    done = run(bin_dir / "python", "-c", probe, timeout=60)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


def digests(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (caches aside), by relative path: its SHA-256."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }
