"""An app server installs the client alone: none of the worker's dependencies.

A fresh virtualenv (no system site-packages, holding an app's own packages:
tests/client/conftest.py) gets ``pip install`` of the project without
extras, i.e. exactly the base dependencies pip resolves from PyPI. In it,
faust, chdb, pandas, clickhouse-driver and pydantic must not be importable;
a script there imports ``spur.client`` and records an action to the
session's real broker, and the test reads it back from the topic. If the
client imported a worker dependency, the script would fail with an
ImportError in that venv (and it checks ``sys.modules`` as well).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest

from spur.client.kafka import KafkaTarget
from spur.console import NEEDS_WORKER_EXTRA
from spur.worker.launch import kafka_env
from spur_schemas.topics import Topic
from tests.client.installs import ROOT, run
from tests.topic_contents import read_topic

pytestmark = pytest.mark.integration

WORKER_ONLY = ("faust", "chdb", "pandas", "clickhouse_driver", "pydantic")

EMIT = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from pathlib import Path

    import spur.client
    from spur.client import Telemetry
    from spur.client.kafka import KafkaTarget, Secret

    WORKER_ONLY = {worker_only!r}

    async def main(bootstrap: str, spool: str) -> None:
        # The password from the environment, as an app server keeps it.
        password = Secret(os.environ["SPUR_KAFKA_SASL_PASSWORD"])
        user = os.environ["SPUR_KAFKA_SASL_USERNAME"]
        target = KafkaTarget(bootstrap, "SASL_PLAINTEXT", user, password)
        async with Telemetry(target, Path(spool), server="light-1") as telemetry:
            with telemetry.action(
                "document.export", customer_id=4242, login="light", session_id="s-light",
                client_ip="10.9.8.7",
            ) as action:
                action.bytes_out = 1234
        loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set(WORKER_ONLY))
        print(json.dumps({{"action_id": str(action.action_id), "loaded": loaded}}))

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def test_the_base_install_has_none_of_the_worker_dependencies(light_venv: Path) -> None:
    probe = (
        "import importlib.util, json; "
        f"print(json.dumps([m for m in {WORKER_ONLY!r} if importlib.util.find_spec(m)]))"
    )
    found = run(light_venv / "python", "-c", probe, timeout=60)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == []
    # Only the venv's own packages: nothing leaks in from this interpreter.
    paths = run(light_venv / "python", "-c", "import sys; print(sys.path)", timeout=60)
    assert str(ROOT) not in paths.stdout


def test_the_spur_command_names_the_worker_extra(light_venv: Path) -> None:
    done = run(light_venv / "spur", "--help", timeout=60)
    assert done.returncode == 1
    assert NEEDS_WORKER_EXTRA in done.stderr
    assert "Traceback" not in done.stderr


def test_the_client_alone_delivers_an_action_to_kafka(
    light_venv: Path, fresh_topics: KafkaTarget, tmp_path: Path
) -> None:
    script = tmp_path / "emit.py"
    script.write_text(EMIT.format(worker_only=WORKER_ONLY))
    # Run outside the checkout, so the venv's installed spur is the one imported.
    done = subprocess.run(
        [str(light_venv / "python"), str(script), fresh_topics.bootstrap, str(tmp_path / "spool")],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env={**os.environ, **kafka_env(fresh_topics)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    emitted = json.loads(done.stdout.strip().splitlines()[-1])
    assert emitted["loaded"] == []
    values = asyncio.run(read_topic(fresh_topics, Topic.ACTIONS.value))
    arrived = [json.loads(v) for v in values]
    mine = [a for a in arrived if a["action_id"] == emitted["action_id"]]
    assert len(mine) == 1, arrived
    assert uuid.UUID(mine[0]["action_id"])
    action = mine[0]
    assert (action["customer_id"], action["bytes_out"], action["server"]) == (4242, 1234, "light-1")
    assert not (tmp_path / "spool" / "events.jsonl").read_bytes()  # delivered, not spooled
