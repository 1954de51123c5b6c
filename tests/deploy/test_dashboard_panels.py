"""The Grafana dashboards, parsed: ClickHouse time series are asked for as time
series (one per customer or action), the retention panel plots the policy next
to the age, and the client panel reads metrics the spur client registers from
a Prometheus job that exists."""

from __future__ import annotations

import asyncio
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import start_http_server

import spur.client.telemetry
import spur_schemas.metrics as metric_definitions
from spur.client.telemetry import Telemetry
from spur.processes import free_port
from spur_schemas.metrics import Metric
from tests.deploy.grafana_plugin import (
    CLICKHOUSE_PLUGIN,
    FORMAT_TABLE,
    FORMAT_TIME_SERIES,
    ROOT,
    Target,
    targets,
)

PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"


def scrape_jobs() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(PROMETHEUS.read_text())
    return {job["job_name"]: job for job in config["scrape_configs"]}


def prometheus_panel(title: str) -> list[Target]:
    found = [t for t in targets("prometheus") if t.panel["title"].startswith(title)]
    assert found, f"no panel {title!r}"
    return found


@pytest.mark.parametrize("target", list(targets(CLICKHOUSE_PLUGIN)), ids=lambda t: t.name)
def test_clickhouse_panels_ask_for_the_format_they_draw(target: Target) -> None:
    # Table format hands a time-series panel one frame of long rows: one mixed
    # line instead of one per customer or action.
    query = target.target
    if target.panel["type"] == "timeseries":
        assert (query["format"], query.get("queryType")) == (FORMAT_TIME_SERIES, "timeseries")
    else:
        assert (query["format"], query.get("queryType")) == (FORMAT_TABLE, "table")


def test_the_oldest_row_age_is_plotted_next_to_its_policy() -> None:
    exprs = {t.target["refId"]: t.target for t in prometheus_panel("Oldest row age vs policy")}
    plotted = {
        name: query
        for query in exprs.values()
        for name in re.findall(r"\bspur_retention_\w+_seconds\b", query["expr"])
    }
    assert set(plotted) == {"spur_retention_oldest_age_seconds", "spur_retention_policy_seconds"}
    for name, query in plotted.items():
        assert "by (table)" in query["expr"], f"{name}: one line per table, whatever the workers"
        assert "{{table}}" in query.get("legendFormat", ""), f"{name}: legend names the table"
    legends = {query["legendFormat"] for query in plotted.values()}
    assert len(legends) == 2, "age and policy lines are told apart"
    # Both are seconds; the panel plots days.
    assert all(query["expr"].endswith("/ 86400") for query in plotted.values())


def client_counters() -> dict[str, Metric]:
    """The counters spur/client/telemetry.py increments, by exposed name."""
    source = Path(spur.client.telemetry.__file__).read_text()
    found = {}
    for attribute in set(re.findall(r"\.inc\((CLIENT_\w+)", source)):
        metric = getattr(metric_definitions, attribute)
        if metric.kind == "counter":
            found[metric.name] = metric
    return found


def test_the_client_panel_reads_what_the_client_counts_from_a_scraped_job() -> None:
    counters = client_counters()
    jobs = scrape_jobs()
    queries = prometheus_panel("Client: emitted, sent, spooled")
    shown = set()
    for target in queries:
        expr = target.target["expr"]
        # rate() drops __name__: a `by (__name__)` makes the three one line.
        assert "__name__" not in expr, expr
        names = set(re.findall(r"\b(spur_client_\w+)\b", expr))
        assert names, expr
        assert names <= set(counters), f"{expr}: the client counts {sorted(counters)}"
        (job,) = re.findall(r'job="([^"]+)"', expr)
        assert job in jobs, f"{expr}: no scrape job {job!r} in {PROMETHEUS.name}"
        shown |= names
    assert shown == {
        "spur_client_events_emitted_total",
        "spur_client_events_sent_total",
        "spur_client_events_spooled_total",
    }


def test_the_app_server_job_reads_its_targets_from_files_compose_mounts() -> None:
    job: dict[str, Any] = scrape_jobs()["spur-app"]
    (discovery,) = job["file_sd_configs"]
    (pattern,) = discovery["files"]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    mounts = {
        volume.split(":")[1]: volume.split(":")[0]
        for volume in compose["services"]["prometheus"]["volumes"]
    }
    directory = str(Path(pattern).parent)
    assert directory in mounts, f"{pattern}: not mounted into prometheus"
    examples = list((ROOT / mounts[directory]).glob(Path(pattern).name))
    assert examples, "an example targets file shows the format"
    for example in examples:
        groups = yaml.safe_load(example.read_text())
        assert isinstance(groups, list)
        for group in groups:
            assert set(group) <= {"targets", "labels"}
            assert all(re.fullmatch(r"[\w.-]+:\d+", t) for t in group["targets"])


async def test_an_app_server_exposes_the_client_counters_the_documented_way(
    tmp_path: Path,
) -> None:
    # deploy/README.md: prometheus_client's start_http_server in the app server.
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1")
    try:
        telemetry = Telemetry(f"127.0.0.1:{free_port()}", tmp_path / "spool")  # no broker
        with telemetry.action(
            "document.open", customer_id=7, login="ann", session_id="s", client_ip="10.0.0.1"
        ):
            pass
        await telemetry.close(drain_seconds=0)
        page = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    text = page.decode()
    for name in ("spur_client_events_emitted_total", "spur_client_events_spooled_total"):
        assert re.search(rf'^{name}{{topic="spur.actions.v1"}} [1-9]', text, re.M), name
    assert "# TYPE spur_client_events_sent_total counter" in text
