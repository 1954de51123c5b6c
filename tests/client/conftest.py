"""The app server's virtualenv, shared by the install tests of this directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.client.installs import copy_sources, make_venv, pip, write_app


@pytest.fixture(scope="session")
def light_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An app server's virtualenv; its ``bin`` directory.

    Fresh (no system site-packages), it first gets the app's own distribution
    with its packages ``schemas``, ``streams`` and ``sinks``
    (tests/client/installs.py), then ``pip install <project>`` without extras:
    exactly the base dependencies pip resolves from PyPI. The app's project
    is left next to the venv, in ``../../app``.
    """
    root = tmp_path_factory.mktemp("light")
    bin_dir = make_venv(root)
    pip(bin_dir, "install", "--quiet", write_app(root / "app"))
    pip(bin_dir, "install", "--quiet", copy_sources(root / "source"))
    return bin_dir
