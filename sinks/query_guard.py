"""The guard of ad-hoc SQL: one read-only query over spur's tables, decided on
ClickHouse's own parse of it.

The server parses the query (``EXPLAIN AST``, which runs nothing) as the
reading account; the guard walks the printed tree. A query passes when:

- it is exactly one statement whose root is a SELECT (``SelectWithUnionQuery``:
  also WITH ... SELECT, UNION, INTERSECT/EXCEPT) or an ``EXPLAIN`` of one,
  with no INTO OUTFILE, FORMAT or SETTINGS clause;
- every node is of a kind a SELECT is made of (an allow-list: no SET, no query
  parameters, no ``APPLY(name)``, whose function is only text);
- every function is one the server lists in ``system.functions`` as built in
  (``origin = 'System'``; aggregate combinators such as ``sumIf`` resolve to
  their aggregate), or ``lambda``/``exists``/``grouping``/``untuple``; none is
  a table function's name (``file()`` is both) and none is denied (files,
  dictionaries and joins of other tables, the host's names, kernel, ports
  and identity, server internals, sleeping);
- every table source (FROM, JOIN, the right side of IN, any name starting
  with ``system.``) is an unqualified name (spur's database, the session's,
  or a WITH name), ``<spur's database>.<table>``, or one of
  the allowed system tables; table functions only those that compute rows
  and read nothing;
- no column that shows the host's paths or disks (of
  ``system.tables`` and ``system.parts``) is named, and ``*`` is not used in
  a query that reads those tables.

The lists, by name: spur_sinks.query_rules.

Names with line breaks would print as several lines: a tree whose lines do
not add up to the children ClickHouse counted is refused as unreadable.
The reading account is read-only with limits, so what
the guard misses the server still refuses; the guard is what keeps scalar
functions such as ``file()`` from the host (the local store does not confine
them: README, "Known limit of the local store").

The parse's tree: spur_sinks.query_tree. Blocking: two or three small
queries through the store. Raises :class:`QueryRefusedError` naming what
was refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from spur_sinks.query_rules import (
    DENIED_FUNCTIONS,
    NODE_KINDS,
    STRUCTURAL_FUNCTIONS,
    SYSTEM_TABLES,
    TABLE_FUNCTIONS,
    host_columns_read,
    refuse_host_columns,
    refuse_slow,
    refuse_slow_aggregate,
)
from spur_sinks.query_tree import Node, QueryRefusedError, parse_tree
from spur_sinks.store import Store, StoreError
from spur_sinks.store_errors import READONLY, TOO_MANY_ROWS_OR_BYTES
from spur_sinks.url import PARSER_BACKTRACKS, PARSER_DEPTH

__all__ = ["Catalog", "Guard", "Node", "QueryRefusedError", "parse_tree"]


_IN_FUNCTIONS = frozenset(
    {"in", "notin", "globalin", "globalnotin", "nullin", "notnullin", "globalnullin",
     "globalnotnullin"}
)  # fmt: skip
# Statement kinds as the user wrote them, for the message.
_STATEMENTS = {
    "InsertQuery": "INSERT (a write)", "KillQueryQuery": "KILL", "SYSTEM": "SYSTEM",
    "Set": "SET", "CreateQuery": "CREATE (DDL)", "AlterQuery": "ALTER (DDL or a write)",
    "DropQuery": "DROP (DDL)", "RenameQuery": "RENAME (DDL)", "OptimizeQuery": "OPTIMIZE",
    "DeleteQuery": "DELETE (a write)", "UseQuery": "USE", "GRANT": "GRANT",
}  # fmt: skip
_REFUSED_NODES = {
    "Set": "a SETTINGS clause (the reader's limits are fixed)",
    "QueryParameter": "query parameters ({name:Type})",
    "ColumnsApplyTransformer": "APPLY(function) (name the function in a call instead)",
}
_PREFIX = "EXPLAIN AST "
_POSITION = re.compile(r"position (\d+)")  # in the EXPLAIN, not the user's query


@dataclass(frozen=True)
class Catalog:
    """What the server says exists: its functions, aggregates, table functions."""

    functions: dict[str, str]  # name (lower-cased if case-insensitive) -> canonical
    aggregates: frozenset[str]
    combinators: tuple[str, ...]
    table_functions: frozenset[str]  # lower-cased

    @classmethod
    def of(cls, store: Store) -> Catalog:
        # One row each: the readers' max_result_rows applies to these too.
        (row,) = store.query(
            "SELECT groupArray((name, is_aggregate, case_insensitive, alias_to)) AS functions, "
            "(SELECT groupArray(name) FROM system.aggregate_function_combinators) AS combinators, "
            "(SELECT groupArray(name) FROM system.table_functions) AS tables "
            "FROM system.functions WHERE origin = 'System'"
        )
        functions: dict[str, str] = {}
        for name, _aggregate, case_insensitive, alias_to in row["functions"]:
            functions[name] = alias_to or name
            if case_insensitive:
                functions[name.lower()] = alias_to or name
        aggregates = frozenset(name for name, aggregate, *_ in row["functions"] if aggregate)
        tables = frozenset(name.lower() for name in row["tables"])
        return cls(functions, aggregates, tuple(row["combinators"]), tables)

    def resolve(self, name: str) -> str | None:
        """The canonical name of a built-in function, or None."""
        found = self.functions.get(name) or self.functions.get(name.lower())
        if found is not None:
            return found
        for suffix in self.combinators:  # sumIf, uniqMerge, quantilesStateIf, ...
            if name.endswith(suffix) and len(name) > len(suffix):
                base = self.resolve(name[: -len(suffix)])
                if base is not None and base in self.aggregates:
                    return base
        return None


@dataclass
class Guard:
    """Checks parsed queries against spur's database ``database``."""

    store: Store
    database: str
    # The host columns of the system tables the query being checked reads.
    _host_columns: frozenset[str] = frozenset()

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog.of(self.store)

    def check(self, sql: str) -> None:
        """Raise :class:`QueryRefusedError` unless ``sql`` is one confined read."""
        try:
            lines = [row["explain"] for row in self.store.query(_PREFIX + sql)]
        except StoreError as exc:
            raise _refusal(exc) from exc
        root = parse_tree(lines)
        if root.kind == "Explain":
            if len(root.children) != 1:
                raise QueryRefusedError("refused: EXPLAIN with options or clauses")
            root = root.children[0]
        self._host_columns = host_columns_read(root)
        if root.kind != "SelectWithUnionQuery":
            what = _STATEMENTS.get(root.kind, root.kind)
            raise QueryRefusedError(
                f"refused: {what}; spur query runs one SELECT (or WITH ... SELECT, EXPLAIN)"
            )
        if len(root.children) > 1:
            extra = root.children[1].kind
            clause = {"Literal": "INTO OUTFILE", "Identifier": "a FORMAT clause"}.get(extra)
            raise QueryRefusedError(
                f"refused: {clause or _REFUSED_NODES.get(extra, extra)}; "
                "spur query prints rows itself (--format table|csv|json)"
            )
        self._walk(root)

    def _walk(self, node: Node) -> None:
        if node.kind in _REFUSED_NODES:
            raise QueryRefusedError(f"refused: {_REFUSED_NODES[node.kind]}")
        if node.kind not in NODE_KINDS:
            raise QueryRefusedError(f"refused: {node.kind} is no part of a plain SELECT")
        if self._host_columns:
            refuse_host_columns(node, self._host_columns)
        if node.kind == "Function":
            self._function(node)
        elif node.kind == "TableIdentifier":
            self._source(node.text)
        elif node.kind == "Identifier":
            self._identifier(node)
        for child in node.children:
            self._walk(child)

    def _function(self, node: Node) -> None:
        name = node.text
        if not name or any(c.isspace() for c in name):
            raise QueryRefusedError(f"refused: the function name {name!r}")
        if node.parent is not None and node.parent.kind == "TableExpression":
            if name.lower() not in TABLE_FUNCTIONS:
                raise QueryRefusedError(
                    f"refused: the table function {name}(): spur query reads spur's tables "
                    f"(and {', '.join(sorted(TABLE_FUNCTIONS))}), nothing outside them"
                )
            return
        if name.lower() in STRUCTURAL_FUNCTIONS:
            return
        canonical = self.catalog.resolve(name)
        if canonical is None:
            raise QueryRefusedError(f"refused: {name}() is no built-in function of the server")
        refuse_slow(name, canonical)
        refuse_slow_aggregate(node)
        for candidate in {name.lower(), canonical.lower()}:
            if (
                candidate in DENIED_FUNCTIONS
                or candidate.startswith("dict")
                or (candidate in self.catalog.table_functions and candidate != "format")
            ):
                raise QueryRefusedError(
                    f"refused: the function {name}() reaches outside spur's tables "
                    "(files, dictionaries, other tables, the host)"
                )

    def _identifier(self, node: Node) -> None:
        parts = node.text.split(".")
        if parts[0].lower() in ("system", "information_schema"):
            self._source(".".join(parts[:2]))
        parent = node.parent
        call = parent.parent if parent is not None else None
        if (
            call is not None
            and call.kind == "Function"
            and call.text.lower() in _IN_FUNCTIONS
            and parent is not None
            and parent.children.index(node) == 1
        ):
            self._source(node.text)  # `x IN db.table` reads the table

    def _source(self, name: str) -> None:
        parts = name.split(".")
        if len(parts) == 1 or (len(parts) == 2 and parts[0] == self.database):
            return
        if len(parts) == 2 and parts[0].lower() == "system" and parts[1] in SYSTEM_TABLES:
            return
        allowed = ", ".join(f"system.{t}" for t in sorted(SYSTEM_TABLES))
        raise QueryRefusedError(
            f"refused: the table {name}: spur query reads the tables of {self.database} "
            f"and {allowed}"
        )


def _refusal(exc: StoreError) -> QueryRefusedError:
    """ClickHouse's reason for not parsing the query, as a refusal."""
    text = str(exc).split(". Stack trace", 1)[0]
    if exc.code == TOO_MANY_ROWS_OR_BYTES:  # of the parse itself
        return QueryRefusedError(
            "refused: the query's parse has more lines than SPUR_QUERY_MAX_ROWS allows"
        )
    if "Multi-statements" in text:
        return QueryRefusedError("refused: several statements; spur query runs exactly one")
    if exc.code == READONLY:  # a SETTINGS clause, refused by the profile
        return QueryRefusedError(
            "refused: a SETTINGS clause (the reader's limits are fixed): " + text.split(": ", 1)[-1]
        )
    if exc.code in _TOO_COMPLEX_TO_PARSE:
        return QueryRefusedError(
            f"refused: the query is nested deeper or is more ambiguous than a reader's parse "
            f"may be (max_parser_depth {PARSER_DEPTH}, max_parser_backtracks "
            f"{PARSER_BACKTRACKS:,}); write long chains of operators as functions over arrays "
            "(arraySum, arrayConcat) or split the query"
        )
    reason = _POSITION.sub(lambda m: f"position {int(m.group(1)) - len(_PREFIX)}", text)
    return QueryRefusedError(f"refused: not one valid SELECT: {reason.split(': ', 1)[-1]}")


# ClickHouse's codes for a parse past its limits: AST too deep, parse depth, backtracking.
_TOO_COMPLEX_TO_PARSE = frozenset({167, 306, 718})
