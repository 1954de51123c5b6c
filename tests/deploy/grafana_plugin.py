"""What Grafana and its ClickHouse plugin do with spur's dashboards, for tests.

Read from grafana/clickhouse-datasource (pkg/macros/macros.go, pkg/plugin/
driver.go) and the clickhouse-go driver it uses (context.go): each query's
SQL has its ``$__`` macros expanded with the panel's time range and interval,
and it is sent over the native protocol with ``max_execution_time`` = the
seconds left until the query's deadline + 5 (the deadline is the datasource's
``queryTimeout``, 60 s unless provisioned), plus the datasource's custom
settings and, with ``enableRowLimit``, ``limit``. The target's ``format`` is
sqlds' FormatQueryOption: 0 time series (long rows become one series per
label value, LongToWide), 1 table, 2 logs, 3 trace.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "spur.yml"

CLICKHOUSE_PLUGIN = "grafana-clickhouse-datasource"
FORMAT_TIME_SERIES = 0
FORMAT_TABLE = 1
PLUGIN_DEFAULT_QUERY_TIMEOUT = 60  # seconds (pkg/plugin/settings.go)


@dataclass(frozen=True)
class Target:
    dashboard: str
    panel: dict[str, Any]
    target: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.dashboard}: {self.panel['title']} [{self.target['refId']}]"

    @property
    def datasource_type(self) -> str:
        source = self.target.get("datasource") or self.panel.get("datasource") or {}
        return str(source.get("type", ""))


def dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text())
        for path in sorted((GRAFANA / "dashboards").glob("*.json"))
    }


def targets(datasource_type: str) -> Iterator[Target]:
    """Every query of every dashboard panel on datasources of this type."""
    for name, board in dashboards().items():
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found = Target(name, panel, target)
                if found.datasource_type == datasource_type:
                    yield found


def datasource(type_: str) -> dict[str, Any]:
    document = yaml.safe_load(DATASOURCES.read_text())
    (found,) = (d for d in document["datasources"] if d["type"] == type_)
    return dict(found)


def query_settings() -> dict[str, Any]:
    """The most the ClickHouse plugin sends with a query of the provisioned datasource."""
    data = datasource(CLICKHOUSE_PLUGIN).get("jsonData", {})
    timeout = int(data.get("queryTimeout", PLUGIN_DEFAULT_QUERY_TIMEOUT))
    # clickhouse-go: int(seconds until the deadline + 5), the deadline being
    # queryTimeout from now: at most queryTimeout + 5.
    sent: dict[str, Any] = {"max_execution_time": timeout + 5}
    for custom in data.get("customSettings") or []:
        sent[custom["setting"]] = custom["value"]
    if data.get("enableRowLimit") and data.get("rowLimit"):
        sent["limit"] = data["rowLimit"]
    return sent


def time_range(board: dict[str, Any], now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """A dashboard's default range (``now-30d`` .. ``now``)."""
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

    def at(text: str) -> dt.datetime:
        if text == "now":
            return now
        matched = re.fullmatch(r"now-(\d+)([smhdw])", text)
        assert matched, f"time {text!r}: only now-N[smhdw] is understood here"
        return now - dt.timedelta(**{units[matched[2]]: int(matched[1])})

    return at(board["time"]["from"]), at(board["time"]["to"])


def expand_macros(sql: str, start: dt.datetime, end: dt.datetime, interval_s: int) -> str:
    """``$__`` macros as the plugin expands them (pkg/macros/macros.go), and the
    ``$__interval``-style variables Grafana replaces before the plugin sees the query.
    Anything else that looks like a macro fails: teach it here first."""
    sec = {"from": int(start.timestamp()), "to": int(end.timestamp())}
    ms = {"from": int(start.timestamp() * 1000), "to": int(end.timestamp() * 1000)}

    def seconds(which: str) -> str:
        return f"toDateTime({sec[which]})"

    def millis(which: str) -> str:
        return f"fromUnixTimestamp64Milli({ms[which]})"

    def date(which: str) -> str:
        moment = start if which == "from" else end
        return f"toDate('{moment.astimezone(dt.UTC):%Y-%m-%d}')"

    def between(col: str, bound: Any) -> str:
        return f"{col} >= {bound('from')} AND {col} <= {bound('to')}"

    def group_seconds(period: str) -> int:
        matched = re.fullmatch(r"(\d+)([smhd])", period.strip().strip("'\""))
        assert matched, f"$__timeGroup period {period!r}"
        return int(matched[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[matched[2]]

    with_args = {
        "timeFilter": lambda a: between(a[0], seconds),
        "timeFilter_ms": lambda a: between(a[0], millis),
        "dateFilter": lambda a: between(a[0], date),
        "dateTimeFilter": lambda a: f"({between(a[0], date)}) AND ({between(a[1], seconds)})",
        "dt": lambda a: f"({between(a[0], date)}) AND ({between(a[1], seconds)})",
        "timeFrom": lambda a: f"{a[0]} >= {seconds('from')}",
        "timeTo": lambda a: f"{a[0]} <= {seconds('to')}",
        "timeInterval": lambda a: (
            f"toStartOfInterval(toDateTime({a[0]}), INTERVAL {max(interval_s, 1)} second)"
        ),
        "timeInterval_ms": lambda a: (
            f"toStartOfInterval(toDateTime64({a[0]}, 3), INTERVAL {max(interval_s, 1) * 1000} "
            "millisecond)"
        ),
        "timeGroup": lambda a: (
            f"toStartOfInterval(toDateTime({a[0].strip()}), INTERVAL {group_seconds(a[1])} second)"
        ),
    }
    bare = {
        "fromTime": seconds("from"),
        "toTime": seconds("to"),
        "fromTime_ms": millis("from"),
        "toTime_ms": millis("to"),
        "interval_s": str(max(interval_s, 1)),
        # Grafana's own variables, replaced in the browser before the plugin runs.
        "interval_ms": str(interval_s * 1000),
        "interval": f"{interval_s}s",
        "from": str(ms["from"]),
        "to": str(ms["to"]),
    }

    def expand(match: re.Match[str]) -> str:
        name, args = match[1], match[2]
        if args is not None and name in with_args:
            return str(with_args[name]([a.strip() for a in args.split(",")]))
        if name in bare:
            return bare[name] + (f"({args})" if args is not None else "")
        raise AssertionError(f"unknown Grafana macro $__{name} in {sql!r}")

    expanded = re.sub(r"\$__(\w+)(?:\(([^()]*)\))?", expand, sql)
    assert "$" not in expanded, f"a template variable is left: {expanded!r}"
    return expanded
