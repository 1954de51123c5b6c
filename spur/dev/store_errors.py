"""The local store's error (its own module: the server and its engine supervisor raise it)."""

from __future__ import annotations

from spur_schemas.errors import SpurError


class LocalStoreError(SpurError, RuntimeError):
    """The local store could not be started, found or stopped; the message says why."""
