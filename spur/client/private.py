"""Files and directories private to the user who runs spur (0700 / 0600).

What spur keeps on disk holds secrets or personal data: the store (data,
generated passwords), the state directory (dev broker, Faust tables, the
erasure salt, worker.json), the client spool of unsent events. Commands set
the umask to 0077 at start (spur.cli), so whatever a library or child
process (Kafka, RocksDB) creates is private too; these helpers also tighten
what an older version left readable.

Blocking: small file-system calls. Raises OSError.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """``path`` (and missing parents) as a directory only its owner may enter."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable and writable by its owner only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    path.chmod(0o600)


def touch_private(path: Path) -> None:
    """Create ``path`` empty if missing; either way private to its owner."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    path.chmod(0o600)
