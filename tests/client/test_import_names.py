"""spur's import names cannot clash with an app's own packages.

spur's directories are ``schemas/``, ``streams/`` and ``sinks/``; they are
installed and imported as ``spur_schemas``, ``spur_streams`` and
``spur_sinks`` (pyproject.toml, [tool.setuptools]). An app server's
virtualenv that already holds packages named ``schemas``, ``streams`` and
``sinks`` (tests/client/conftest.py) gets the client: both import, from
anywhere and from the app's own directory; the app's files are the app's
after spur's install and after ``pip uninstall spur``, and spur's files are
spur's after the app is uninstalled. The install holds every module and data
file of spur's directories, under the new names, and nothing else.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.installs import (
    APP_DISTRIBUTION,
    APP_PACKAGES,
    ROOT,
    digests,
    marker,
    pip,
    run,
    site_packages,
)

pytestmark = pytest.mark.integration

# Directory -> the name it is installed and imported as.
INSTALLED_AS = {
    "spur": "spur",
    "schemas": "spur_schemas",
    "streams": "spur_streams",
    "sinks": "spur_sinks",
}
SPUR_TOP_LEVEL = set(INSTALLED_AS.values())

PROBE = textwrap.dedent(
    """
    import importlib, importlib.util, json
    from importlib import resources

    import spur.client
    import spur_schemas.events
    import spur_schemas.validate
    from spur.client import Telemetry

    found = {{}}
    for package in {app_packages!r}:
        module = importlib.import_module(package + ".marker")
        found[package] = [module.OWNER, module.__file__]
    print(json.dumps({{
        "app": found,
        "spur": [spur.client.__file__, spur_schemas.events.__file__, Telemetry.__name__],
        "spur_found": [
            importlib.util.find_spec(n) is not None
            for n in ("spur_streams.batch", "spur_sinks.query")
        ],
        "ddl": sorted(p.name for p in resources.files("spur_schemas").joinpath("ddl").iterdir()),
    }}))
    """
)


def _probe(bin_dir: Path, cwd: Path) -> dict[str, object]:
    """What the venv's python imports, run with ``-c`` in ``cwd`` (first on its sys.path)."""
    code = PROBE.format(app_packages=APP_PACKAGES)
    done = run(bin_dir / "python", "-c", code, timeout=120, cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _layout(bin_dir: Path) -> tuple[Path, Path, Path]:
    """The venv's site-packages, the app's project, spur's copied sources."""
    root = bin_dir.parents[1]
    return site_packages(bin_dir), root / "app", root / "source"


def _assert_the_apps_files_are_the_apps(bin_dir: Path) -> None:
    site, app, _ = _layout(bin_dir)
    for package in APP_PACKAGES:
        assert digests(site / package) == digests(app / package), package


def _assert_spurs_files_are_installed(bin_dir: Path) -> None:
    site, _, _ = _layout(bin_dir)
    for directory, name in INSTALLED_AS.items():
        source = {
            path: digest
            for path, digest in digests(ROOT / directory).items()
            if path.endswith((".py", ".sql", ".json"))
        }
        assert digests(site / name) == source, f"{directory}/ installed as {name}"


def test_spur_installs_only_its_own_names(light_venv: Path) -> None:
    site, _, _ = _layout(light_venv)
    (record,) = site.glob("spur-*.dist-info/RECORD")
    top_level = {
        line.split(",")[0].split("/")[0] for line in record.read_text().splitlines() if line
    }
    # What `pip uninstall spur` deletes: spur's names, its metadata, its script.
    assert top_level - {"..", record.parent.name} == SPUR_TOP_LEVEL
    assert not top_level & set(APP_PACKAGES)
    _assert_spurs_files_are_installed(light_venv)
    _assert_the_apps_files_are_the_apps(light_venv)


@pytest.mark.parametrize("where", ["elsewhere", "app"])
def test_the_client_and_the_apps_packages_import_side_by_side(
    light_venv: Path, tmp_path: Path, where: str
) -> None:
    site, app, _ = _layout(light_venv)
    # From the app's directory its packages are on sys.path first, as well.
    cwd = app if where == "app" else tmp_path
    found = _probe(light_venv, cwd)
    app_found = found["app"]
    assert isinstance(app_found, dict)
    for package in APP_PACKAGES:
        owner, path = app_found[package]
        assert owner == marker(package)
        assert Path(path).parent.parent == (app if where == "app" else site)
    spur_files = found["spur"]
    assert isinstance(spur_files, list)
    assert all(Path(p).is_relative_to(site) for p in spur_files[:2])
    assert found["spur_found"] == [True, True]
    assert found["ddl"] == sorted(p.name for p in (ROOT / "schemas" / "ddl").glob("*.sql"))


@pytest.fixture
def reinstalled(light_venv: Path) -> Iterator[Path]:
    """The venv, with spur and the app installed again after the test uninstalled one."""
    try:
        yield light_venv
    finally:
        _, app, source = _layout(light_venv)
        pip(light_venv, "install", "--quiet", "--no-deps", "--force-reinstall", app, source)


def test_uninstalling_spur_leaves_the_apps_packages(reinstalled: Path, tmp_path: Path) -> None:
    pip(reinstalled, "uninstall", "--yes", "spur")
    site, _, _ = _layout(reinstalled)
    assert not any((site / name).exists() for name in SPUR_TOP_LEVEL)
    _assert_the_apps_files_are_the_apps(reinstalled)
    probe = "import schemas.marker, streams.marker, sinks.marker; print(schemas.marker.OWNER)"
    done = run(reinstalled / "python", "-c", probe, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == marker("schemas")


def test_uninstalling_the_app_leaves_spur(reinstalled: Path, tmp_path: Path) -> None:
    pip(reinstalled, "uninstall", "--yes", APP_DISTRIBUTION)
    site, _, _ = _layout(reinstalled)
    assert not any((site / name).exists() for name in APP_PACKAGES)
    _assert_spurs_files_are_installed(reinstalled)
    done = run(reinstalled / "python", "-c", "import spur.client", timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
