"""What the guard of ad-hoc SQL (spur_sinks.query_guard) allows and refuses: the lists, by name.

Pure data and two pure checks over the parsed query (spur_sinks.query_tree);
kept apart from the guard's walk so that the rules read in one place.
"""

from __future__ import annotations

from spur_sinks.query_tree import Node, QueryRefusedError

# Functions that read files, other tables or dictionaries (whose sources may
# be anything), reveal the host or server, or only hold a thread. Every name
# starting with "dict" (dictGet, dictHas, ...) is denied too.
DENIED_FUNCTIONS = frozenset(
    name.lower()
    for name in (
        "file", "joinGet", "joinGetOrNull", "hasColumnInTable",
        "getMaxTableNameLengthForDatabase", "naiveBayesClassifier",
        "naiveBayesClassifierWithProb", "naiveBayesClassifierWithAllProbs",
        "catboostEvaluate", "modelEvaluate", "generateSerialID", "showCertificate",
        "getMacro", "getServerSetting", "getMergeTreeSetting", "getClientHTTPHeader",
        "currentRequestURL", "zookeeperSessionUptime", "filesystemAvailable",
        "filesystemCapacity", "filesystemUnreserved", "addressToLine",
        "addressToLineWithInlines", "addressToSymbol", "demangle", "sleep", "sleepEachRow",
        # The host: its names, kernel, ports, build and identity.
        "hostName", "fqdn", "fullHostName", "getOSKernelVersion", "serverUUID",
        "getServerPort", "tcpPort", "displayName", "buildId", "uptime",
        # Quadratic in their arguments' length and checked for the time limit only
        # when done: one call over 60,000 characters runs for seconds, inside one
        # block (measured: ten rows of it ran 32 s against a 3 s limit).
        "editDistance", "editDistanceUTF8", "levenshteinDistance", "levenshteinDistanceUTF8",
        "damerauLevenshteinDistance", "jaroSimilarity", "jaroWinklerSimilarity",
        # The same over arrays (20,000 elements each: 1.5-7 s in one call).
        "arrayLevenshteinDistance", "arrayLevenshteinDistanceWeighted", "arraySimilarity",
    )
)  # fmt: skip
# Columns of the allowed system tables that show the host's paths and disks:
# refused by name, and `*` is refused over a table that has them.
HOST_COLUMNS: dict[str, frozenset[str]] = {
    "tables": frozenset({"data_paths", "metadata_path"}),
    "parts": frozenset({"path", "disk_name"}),
}
_MATCHERS = frozenset(
    {"Asterisk", "QualifiedAsterisk", "ColumnsRegexpMatcher", "ColumnsListMatcher",
     "QualifiedColumnsRegexpMatcher", "QualifiedColumnsListMatcher"}
)  # fmt: skip
# Functions the parser makes that system.functions does not list.
STRUCTURAL_FUNCTIONS = frozenset({"lambda", "exists", "grouping", "untuple"})
# Table functions that only compute rows.
TABLE_FUNCTIONS = frozenset({"numbers", "generate_series", "generateseries", "values"})
# Harmless metadata (the server shows only what the account may see).
SYSTEM_TABLES = frozenset(
    {"one", "numbers", "tables", "columns", "parts", "functions", "time_zones"}
)
# The node kinds a SELECT is made of.
NODE_KINDS = frozenset(
    {
        "SelectWithUnionQuery", "SelectIntersectExceptQuery", "SelectQuery", "ExpressionList",
        "TablesInSelectQuery", "TablesInSelectQueryElement", "TableExpression",
        "TableIdentifier", "TableJoin", "ArrayJoin", "Subquery", "WithElement", "Function",
        "Identifier", "Literal", "Asterisk", "QualifiedAsterisk", "ColumnsRegexpMatcher",
        "ColumnsListMatcher", "QualifiedColumnsRegexpMatcher", "QualifiedColumnsListMatcher",
        "ColumnsTransformerList", "ColumnsExceptTransformer", "ColumnsReplaceTransformer",
        "ColumnsReplaceTransformer::Replacement", "OrderByElement", "WindowDefinition",
        "WindowListElement", "SampleRatio", "InterpolateElement",
    }
)  # fmt: skip


def host_columns_read(node: Node) -> frozenset[str]:
    """The host columns (HOST_COLUMNS) of every system table named anywhere in the query."""
    found: set[str] = set()
    if node.kind in ("TableIdentifier", "Identifier"):
        parts = node.text.lower().split(".")
        if len(parts) >= 2 and parts[0] == "system":
            found |= HOST_COLUMNS.get(parts[1], frozenset())
    for child in node.children:
        found |= host_columns_read(child)
    return frozenset(found)


def refuse_host_columns(node: Node, columns: frozenset[str]) -> None:
    if node.kind in _MATCHERS:
        raise QueryRefusedError(
            "refused: * (or COLUMNS) over system.tables or system.parts, which would show "
            f"the host's paths ({', '.join(sorted(columns))}); name the columns you need"
        )
    if node.kind == "Identifier" and node.text.split(".")[-1].lower() in columns:
        raise QueryRefusedError(
            f"refused: the column {node.text}: it shows the host's paths and disks"
        )
