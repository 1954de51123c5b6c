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
        "addressToLineWithInlines", "addressToSymbol", "demangle",
        # The host: its names, kernel, ports, build and identity.
        "hostName", "fqdn", "fullHostName", "getOSKernelVersion", "serverUUID",
        "getServerPort", "tcpPort", "displayName", "buildId", "uptime",
    )
)  # fmt: skip

# Functions whose one call (or one block of calls) can run far past the read's
# time limit: the server checks the limit between blocks and inside most
# functions, not inside these, and keeps running them after the command gave up.
# Found by measuring (a 3 s limit, within the account's memory limit): the
# name -> what to write instead. docs/security.md says how they were searched.
_QUADRATIC_STRINGS = "quadratic in the strings' length"
_SCAN_PER_ROW = "scans the whole array for every row; has() looks up a constant array"
_NEEDLES = "tries every needle at every position; search for one needle with position()"
SLOW_FUNCTIONS: dict[str, str] = {
    name.lower(): hint
    for names, hint in (
        # Ten rows over 60,000 characters ran 32 s.
        (("editDistance", "editDistanceUTF8", "levenshteinDistance",
          "levenshteinDistanceUTF8", "damerauLevenshteinDistance", "jaroSimilarity",
          "jaroWinklerSimilarity"), _QUADRATIC_STRINGS),
        # 20,000 elements each: 1.5-7 s in one call.
        (("arrayLevenshteinDistance", "arrayLevenshteinDistanceWeighted", "arraySimilarity"),
         "quadratic in the arrays' length"),
        # A [*] path over an 80,000-element document: 25 s; 300,000: over 10 minutes.
        (("JSON_QUERY", "JSON_VALUE", "JSON_EXISTS"),
         "a [*] path is quadratic in the document; use JSONExtract*()"),
        (("JSONMergePatch",), "quadratic in the number of keys (80,000 keys: 15 s)"),
        # A 2 MB text: 80 s; the naive search behind case-insensitive matching.
        (("countSubstringsCaseInsensitive", "countSubstringsCaseInsensitiveUTF8", "ilike",
          "notILike"), "compare lower() of both sides with countSubstrings()/LIKE"),
        (("hasAny", "hasAll"),
         "compares every pair of elements; use length(arrayIntersect(a, b))"),
        (("indexOf", "countEqual", "indexOfAssumeSorted"), _SCAN_PER_ROW),
        # Two 300-tooth combs: 26-28 s.
        (("polygonsIntersectionCartesian", "polygonsUnionCartesian",
          "polygonsSymDifferenceCartesian", "polygonsIntersectionSpherical",
          "polygonsUnionSpherical", "polygonsSymDifferenceSpherical"),
         "superlinear in the polygons' vertices"),
        (("pointInPolygon",), "indexes the whole polygon in one call (1.5M vertices: 12 s)"),
        (("estimateCompressionRatio",), "compresses all its input in one call"),
        # 255 needles over 6 MB: 11 s.
        (("multiSearchAny", "multiSearchAnyUTF8", "multiSearchAnyCaseInsensitive",
          "multiSearchAnyCaseInsensitiveUTF8", "multiSearchFirstIndex",
          "multiSearchFirstIndexUTF8", "multiSearchFirstIndexCaseInsensitive",
          "multiSearchFirstIndexCaseInsensitiveUTF8", "multiSearchFirstPosition",
          "multiSearchFirstPositionUTF8", "multiSearchFirstPositionCaseInsensitive",
          "multiSearchFirstPositionCaseInsensitiveUTF8", "multiSearchAllPositions",
          "multiSearchAllPositionsUTF8", "multiSearchAllPositionsCaseInsensitive",
          "multiSearchAllPositionsCaseInsensitiveUTF8"), _NEEDLES),
        (("sleep", "sleepEachRow"), "it only holds a thread"),
    )
    for name in names
}  # fmt: skip
# Functions that take an aggregate function by name, as a string: the name is
# checked as a function's would be.
AGGREGATES_BY_NAME = frozenset({"arrayreduce", "arrayreduceinranges", "initializeaggregation"})
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


def refuse_slow(name: str, canonical: str) -> None:
    """Refuse a function of SLOW_FUNCTIONS, saying what to use instead."""
    for candidate in (name.lower(), canonical.lower()):
        if candidate in SLOW_FUNCTIONS:
            raise QueryRefusedError(
                f"refused: {name}() can run far past the time limit inside one block, where "
                f"the server does not stop it ({SLOW_FUNCTIONS[candidate]})"
            )


def refuse_slow_aggregate(call: Node) -> None:
    """Refuse a call of AGGREGATES_BY_NAME whose first argument names a slow aggregate
    (``arrayReduce('estimateCompressionRatioIf(...)', ...)``), combinators included."""
    if call.text.lower() not in AGGREGATES_BY_NAME or not call.children:
        return
    arguments = call.children[0].children
    if not arguments:
        return
    if arguments[0].kind != "Literal":  # a constant expression would hide the name
        raise QueryRefusedError(
            f"refused: {call.text}() with a computed aggregate name: write the name as a string"
        )
    named = arguments[0].text.strip("'").split("(", 1)[0].strip()
    for slow in SLOW_FUNCTIONS:
        if named.lower().startswith(slow):
            refuse_slow(named, slow)


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
