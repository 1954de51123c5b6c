"""The Kafka broker's jars, fetched once from Maven Central into a cache.

Neither Docker nor the Kafka release tarball is available on the machines spur
is built on, so the jars are resolved with
Maven from ``deploy/kafka/pom.xml`` into ``~/.cache/spur/kafka-<version>``,
outside the repository and shared by every checkout on the machine. Kept
apart from the broker process (spur.dev.broker): fetching is a one-time,
networked, locked step; starting is not.

Blocking: the first call per version runs Maven (minutes); later calls only
look at the cache. Raises :class:`BrokerError` with Maven's output when the
download fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from spur_schemas.errors import SpurError

POM = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "pom.xml"
LOG_TAIL_LINES = 40


class BrokerError(SpurError, RuntimeError):
    """The broker could not be fetched, started or stopped; the message says why."""


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "spur"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def kafka_jars(version: str, cache_dir: Path | None = None) -> Path:
    """Return the directory of the broker's jars, downloading them on first use.

    The download goes to a temporary directory renamed into place, under a
    file lock, so concurrent callers and interrupted downloads never see a
    half-filled cache.
    """
    root = (cache_dir or default_cache_dir()) / f"kafka-{version}"
    libs = root / "libs"
    if libs.is_dir():
        return libs
    if not POM.is_file():
        raise BrokerError(f"{POM} is missing: run spur from its source checkout")
    if shutil.which("mvn") is None or shutil.which("java") is None:
        raise BrokerError("the local Kafka broker needs 'java' (17+) and 'mvn' on PATH")
    with _file_lock(root.with_suffix(".lock")):
        if libs.is_dir():
            return libs
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="libs-", dir=root))
        command = [
            "mvn", "-q", "-B", "-f", str(POM), f"-Dkafka.version={version}",
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            output = (result.stdout + result.stderr).strip().splitlines()[-LOG_TAIL_LINES:]
            raise BrokerError(
                f"downloading Kafka {version} jars with Maven failed "
                f"(exit {result.returncode}): {' '.join(command)}\n" + "\n".join(output)
            )
        staging.rename(libs)
    return libs
