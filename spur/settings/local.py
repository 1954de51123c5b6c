"""Files on this machine: the state directory and the download cache."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from spur.settings.base import Group

DEFAULT_STATE_DIR = Path(".spur")


class LocalSettings(Group):
    """``SPUR_STATE_DIR`` and ``SPUR_CACHE_DIR``."""

    # The dev broker, the local store, Faust data, the client's spool, the
    # erasure salt and worker.json.
    state_dir: Path = DEFAULT_STATE_DIR
    # The download cache of the broker's jars, shared by every checkout on the machine.
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "spur")

    @property
    def store_dir(self) -> Path:
        """The local store's (`spur dev up` / `spur store`)."""
        return self.state_dir / "store"

    @property
    def faust_dir(self) -> Path:
        return self.state_dir / "faust"

    @property
    def broker_dir(self) -> Path:
        """The `spur dev up` broker's."""
        return self.state_dir / "dev-broker"
