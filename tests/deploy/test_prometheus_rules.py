"""Alert rules: unit-tested with promtool, and only on metrics spur declares."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from spur.metrics import PROMETHEUS

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
CACHE = Path.home() / ".cache" / "spur" / "promtool"


def promtool() -> str:
    """promtool from PATH, or Debian's prometheus package unpacked into a cache."""
    found = shutil.which("promtool")
    if found:
        return found
    cached = CACHE / "usr" / "bin" / "promtool"
    if cached.exists():
        return str(cached)
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        pytest.skip("promtool not found and no apt-get/dpkg-deb to fetch Debian's prometheus")
    with tempfile.TemporaryDirectory() as tmp:
        fetched = subprocess.run(
            ["apt-get", "download", "prometheus"], cwd=tmp, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        packages = list(Path(tmp).glob("prometheus_*.deb"))
        if fetched.returncode != 0 or not packages:
            pytest.skip(f"could not download Debian's prometheus package: {fetched.stderr[-300:]}")
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(packages[0]), str(CACHE)], check=True, timeout=120)
    return str(cached)


def test_rules_pass_their_promtool_unit_tests() -> None:
    tool = promtool()
    checked = subprocess.run(
        [tool, "check", "rules", str(DEPLOY / "rules" / "spur.yml")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [tool, "test", "rules", str(DEPLOY / "tests" / "spur_test.yml")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_rules_use_only_metrics_spur_exposes() -> None:
    PROMETHEUS.declare()
    families = list(REGISTRY.collect())
    # A labelled counter has no samples until used; it is exposed as <name>_total.
    declared = {f.name for f in families}
    declared |= {f"{f.name}_total" for f in families if f.type == "counter"}
    rules = (DEPLOY / "rules" / "spur.yml").read_text()
    used = set(re.findall(r"\b(spur_[a-z_]+)\b(?!\.yml)", rules))
    assert used, "the rules mention no spur metric"
    assert used <= declared, f"rules use undeclared metrics: {sorted(used - declared)}"
    for alert in ("ConsumerLagHigh", "DeadLetterRateHigh", "SinkFailing", "NoEvents",
                  "LateEvents", "TTLOverdue"):  # fmt: skip
        assert f"alert: Spur{alert}" in rules
