"""All ClickHouse SQL and every table name live in sinks/ (README, "How it fits together").

The modules of schemas/, streams/ and spur/ are read as syntax trees: no
string in them (docstrings aside) may be a SQL statement, or name a table
of the registry (spur_sinks.tables) in SQL or as a value passed around. And the
registry is the schema's: the DDL creates exactly the tables it lists.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from spur import local_state
from spur.dev import store_config
from spur_sinks.migrate import BOOTSTRAP, apply_migrations, migrations, render
from spur_sinks.store import Store
from spur_sinks.tables import BY_NAME, TABLES, Reader, Retention, readable_by

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("schemas", "streams", "spur")

# Offenders in files of other branches, as (file, what), line numbers left out
# so that their edits do not stale the list. The lead empties it at merge.
EXPECTED_ELSEWHERE = frozenset(
    {
        # The local store's own server: its grant statements and serving query
        # (the readers' tables come from the registry, spur_sinks.tables.readable_by).
        ("spur/dev/store_config.py", "SQL"),
    }
)  # fmt: skip

_STATEMENT = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bSELECT\s+(?:\d|\w+\()|\bINSERT\s+INTO\b|\bALTER\s+TABLE\b"
    r"|\bDELETE\s+FROM\b|\bOPTIMIZE\s+TABLE\b|\bTRUNCATE\s+TABLE\b|\bEXPLAIN\s+AST\b"
    r"|\bCREATE\s+(?:TABLE|DATABASE|MATERIALIZED\s+VIEW|VIEW|USER|ROLE)\b"
    r"|\bDROP\s+(?:TABLE|DATABASE|VIEW)\b|\bGRANT\s+\w+\s+ON\b|\bSYSTEM\s+(?:START|STOP|FLUSH)\b",
    re.DOTALL,
)
_NAMES = "|".join(sorted(BY_NAME, key=len, reverse=True))
# A table in SQL text: after FROM/INTO/JOIN/TABLE, or qualified (`{db}.name`, `spur.name`).
_TABLE_IN_TEXT = re.compile(
    rf"(?:\b(?:FROM|INTO|JOIN|TABLE|UPDATE)\s+(?:[\w{{}}]+\.)?|[\w}}]\.)({_NAMES})(?![\w.])"
)


def _text(node: ast.JoinedStr) -> str:
    """An f-string's text, each replacement field as ``{}``."""
    return "".join(
        str(part.value) if isinstance(part, ast.Constant) else "{}"
        for part in node.values
        if isinstance(part, ast.Constant | ast.FormattedValue)
    )


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _is_table_value(node: ast.Constant, parent: ast.AST | None) -> bool:
    """A string that is exactly a table name, used as one: passed to a call, or in
    a literal collection of table names (``row["actions"]`` is a column)."""
    if not isinstance(node.value, str) or node.value not in BY_NAME:
        return False
    if isinstance(parent, ast.Call):
        return node in parent.args
    if isinstance(parent, ast.keyword):
        return True
    if isinstance(parent, ast.Tuple | ast.List | ast.Set):
        items = parent.elts
    elif isinstance(parent, ast.Dict):
        items = [v for v in parent.values if v is not None]
        if node in parent.keys:
            items = [k for k in parent.keys if k is not None]
    else:
        return False
    return all(isinstance(i, ast.Constant) and i.value in BY_NAME for i in items)


def offenders(path: Path) -> list[str]:
    """``"<file>:<line> SQL"`` or ``"<file>:<line> table <name>"`` per offending string."""
    tree = ast.parse(path.read_text(), str(path))
    skip = _docstrings(tree)
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = _text(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in skip or isinstance(parents.get(id(node)), ast.JoinedStr):
                continue
            text = node.value
            if _is_table_value(node, parents.get(id(node))):
                found.append(f"{name}:{node.lineno} table {text}")
                continue
        else:
            continue
        if _STATEMENT.search(text):
            found.append(f"{name}:{node.lineno} SQL")
        else:
            found.extend(f"{name}:{node.lineno} table {m}" for m in _TABLE_IN_TEXT.findall(text))
    return found


def test_no_sql_and_no_table_name_outside_sinks() -> None:
    found = [
        offence
        for package in SCANNED
        for path in sorted((ROOT / package).rglob("*.py"))
        for offence in offenders(path)
    ]
    assert [o for o in found if _key(o) not in EXPECTED_ELSEWHERE] == []
    # The expected list holds only what is still there: nothing stale.
    assert sorted(EXPECTED_ELSEWHERE - {_key(o) for o in found}) == []


def _key(offence: str) -> tuple[str, str]:
    """``"a.py:12 table x"`` -> ``("a.py", "table x")``."""
    where, what = offence.split(" ", 1)
    return where.split(":")[0], what


def test_the_scan_sees_sql_and_table_names(tmp_path: Path) -> None:
    """The scanner itself: what it must catch, and what it must let pass."""
    sample = tmp_path / "sample.py"
    code = (
        '"""Docstring: SELECT x FROM actions is prose here."""\n'
        'a = f"SELECT n FROM {db}.usage_hourly WHERE x"\n'
        'b = store.insert("billing_periods", {})\n'
        'c = ("consent_log", "dead_letters")\n'
        'd = row["actions"] + {"actions": 1, "bytes_in": 2}["actions"]\n'
        'e = "spur.actions.v1"\n'
        'f = "refused: one SELECT over spur\'s tables"\n'
    )
    sample.write_text(code)
    assert offenders(sample) == [
        "sample.py:2 SQL",
        "sample.py:3 table billing_periods",
        "sample.py:4 table consent_log",
        "sample.py:4 table dead_letters",
    ]


_CREATED = re.compile(r"^CREATE (?:TABLE|MATERIALIZED VIEW)(?: IF NOT EXISTS)? spur\.(\w+)")
_DROPPED = re.compile(r"^DROP (?:TABLE|VIEW) IF EXISTS spur\.(\w+)")


def test_the_registry_lists_exactly_the_tables_the_ddl_creates() -> None:
    statements = [*BOOTSTRAP, *(s for m in migrations() for s in render(m, Retention(), "spur"))]
    existing: list[str] = []  # in the order the statements leave them; a drop removes one
    for statement in (s.replace("{db}", "spur") for s in statements):
        if created := _CREATED.match(statement):
            assert created.group(1) not in existing, statement
            existing.append(created.group(1))
        elif dropped := _DROPPED.match(statement):
            existing.remove(dropped.group(1))
    assert sorted(existing) == sorted(t.name for t in TABLES)


def test_a_migrated_store_has_exactly_the_registrys_tables(store: Store) -> None:
    apply_migrations(store, Retention())
    rows = store.query(f"SELECT name FROM system.tables WHERE database = '{store.database}'")
    assert sorted(row["name"] for row in rows) == sorted(t.name for t in TABLES)


def test_every_ttl_of_the_registry_is_the_ddls() -> None:
    """A table kept by a policy has a TTL on its column with that policy's days."""
    days = Retention(actions=1001, web=1002, forms=1003, dead_letter=1004, capacity=1005)
    ttl: dict[str, str] = {}
    for statement in (s for m in migrations() for s in render(m, days, "spur")):
        target = re.match(r"^(?:CREATE TABLE IF NOT EXISTS|ALTER TABLE) spur\.(\w+)", statement)
        found = re.search(r"\bTTL (.+)", statement)
        if target and found:
            ttl[target.group(1)] = found.group(1)  # the last one set is in force
    for table in TABLES:
        if table.kept is None or table.kept.policy is None:
            assert table.name not in ttl, table.name
            continue
        assert table.kept.column in ttl[table.name], table.name
        assert f"INTERVAL {days.days(table.kept.policy)} DAY" in ttl[table.name], table.name


def test_roles_are_the_registrys() -> None:
    """The readers' grants: the server's roles and the local store's users."""
    users = ET.parse(ROOT / "deploy" / "clickhouse" / "users.d" / "spur.xml").getroot()
    granted: dict[str, set[str]] = {}
    for role in users.findall("roles/*"):
        for query in role.findall("grants/query"):
            if found := re.fullmatch(r"GRANT SELECT ON spur\.(\w+)", (query.text or "").strip()):
                granted.setdefault(role.tag.removesuffix("_role"), set()).add(found[1])
    granted.pop("spur_writer", None)
    readers: tuple[Reader, ...] = ("billing", "ops", "engineer")
    assert set(readers) == set(granted) == set(local_state.READERS)
    for reader in readers:
        assert set(readable_by(reader)) == granted[reader], reader
        assert set(readable_by(reader)) == set(store_config._READ_GRANTS[reader]), reader


def test_sinks_sql_names_only_the_registrys_tables() -> None:
    """A table named in sinks' SQL (``{database}.name``) is one the registry knows."""
    qualified = re.compile(r"\{\}\.(\w+)")
    unknown = []
    for path in sorted((ROOT / "sinks").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.JoinedStr):
                unknown += [
                    f"{path.name}:{node.lineno} {name}"
                    for name in qualified.findall(_text(node))
                    if name not in BY_NAME and name != "spur_probe"
                ]
    assert unknown == []


def test_the_append_only_tables_are_the_plain_merge_trees() -> None:
    """FINAL is left out exactly where the engine refuses it."""
    plain = {
        m.group(1)
        for s in (s for m in migrations() for s in render(m, Retention(), "spur"))
        if (m := _CREATED.match(s)) and re.search(r"ENGINE = MergeTree\b", s)
    }
    assert plain == {t.name for t in TABLES if t.append_only}
