"""Names of the code that the docs and the module docstrings use still resolve.

Unit tests: no broker, no store. A rename or a move leaves the prose behind;
these tests find it. What is checked, in the Markdown documents (README.md,
docs/*.md, bench/README.md, deploy/README.md: code spans outside fenced
blocks) and in the docstrings of spur's packages (modules, classes and
functions: code spans, Sphinx roles, and the bare module names, paths and
``docs/…md#anchor`` references docstrings use):

- a repository path (``spur/worker/consume.py``, ``sinks/queries/``) exists,
  relative to the repository or to the document's directory; a path with
  ``:name`` (``streams/batch.py:ActionsBatch.process``) names an attribute
  of that module;
- a dotted name of spur's packages (``spur_streams.batch.ActionsBatch``,
  ``spur_sinks.tables``) imports, and its attributes exist; one that uses a
  directory's name as an import name (``streams.batch``, where the package
  is imported as ``spur_streams``) is stale;
- a ``file.md#anchor`` names a heading of that file;
- a section named by its heading, ``(docs/topics.md, "Keys")``, in any of
  the project's text files (code, comments, SQL, configuration), exists.

Only names that look like spur's own are checked: paths under the project's
top-level directories, dotted names starting with ``spur_schemas.``,
``spur_streams.``, ``spur_sinks.``, ``spur.``, ``bench.`` or ``tests.`` (and
the stale ``schemas.``, ``streams.``, ``sinks.``); topic names
(``spur.actions.v1``) and spans with placeholders (``*``, ``<…>``) are not.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
from collections.abc import Iterator
from fnmatch import fnmatch
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

import pytest

from tests.docs.test_docs import ROOT, anchor_of, code_spans, github_anchors, prose_lines

DOCUMENTS = sorted(
    [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        ROOT / "bench" / "README.md",
        ROOT / "deploy" / "README.md",
    ]
)
# Each package's directory and its import name (pyproject.toml, [tool.setuptools]):
# schemas/ is imported as spur_schemas, never as `schemas`.
IMPORT_NAMES = {
    "schemas": "spur_schemas",
    "streams": "spur_streams",
    "sinks": "spur_sinks",
    "spur": "spur",
    "bench": "bench",
}
PACKAGES = tuple(IMPORT_NAMES)
DIRECTORIES = (*PACKAGES, "tests", "docs", "deploy")
# Directory names that are not import names: a dotted name starting with one is stale.
OLD_NAMES = tuple(d for d, name in IMPORT_NAMES.items() if d != name)
_MODULES = (*IMPORT_NAMES.values(), *OLD_NAMES)

_PATH = re.compile(rf"^(?:{'|'.join(DIRECTORIES)})/[\w./-]*(?::[\w.]+)?(?:#[\w-]+)?$")
_DOTTED = re.compile(rf"^(?:{'|'.join((*_MODULES, 'tests'))})(?:\.\w+)+$")
_OLD_DOTTED = re.compile(rf"^(?:{'|'.join(OLD_NAMES)})\.")
_TOPIC = re.compile(r"^spur\.[a-z]+\.v\d+$")
_MARKDOWN_ANCHOR = re.compile(r"^[\w./-]*\.md#[\w-]+$")
# Docstrings name modules, files and documents without backticks as well:
# "(spur_sinks.writer)", "see docs/design.md#layers".
_BARE = re.compile(
    rf"(?<![\w./`])((?:{'|'.join(_MODULES)})(?:\.[A-Za-z_]\w*)+"
    rf"|(?:{'|'.join(DIRECTORIES)})/[\w./-]+(?:#[\w-]+)?|README\.md)"
)
_ROLE = re.compile(r":(?:mod|class|func|meth|data|attr|exc):`~?([^`]+)`")
_PLACEHOLDER = re.compile(r"[\s*?<>{}$…]|\.\.\.|NNNN")
# Files the docs tell an operator to create; a clone does not have them.
MADE_BY_OPERATORS = frozenset({"deploy/certs/ca.crt"})


def resolve_attribute(dotted: str) -> str | None:
    """Why ``dotted`` (module, then attributes) does not resolve, or None.

    The longest prefix that is a module is found without running it
    (``find_spec``), then imported for ``getattr``. A module that cannot be
    imported here (a script that connects to a broker when imported) is read
    instead: its top-level names and their class attributes.
    """
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        module_name = ".".join(parts[:split])
        try:
            spec = importlib.util.find_spec(module_name)
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            continue
        attributes = parts[split:]
        if not attributes:
            return None
        try:
            found: Any = importlib.import_module(module_name)
        except Exception:  # a script's import-time failure is not the docs' fault
            return _resolve_in_source(spec, attributes)
        for attribute in attributes:
            if not hasattr(found, attribute):
                return f"{module_name} has no {'.'.join(attributes)}"
            found = getattr(found, attribute)
        return None
    return "no such module"


def _resolve_in_source(spec: ModuleSpec, attributes: list[str]) -> str | None:
    """``attributes`` looked up in the module's source: top-level names, then class bodies."""
    if spec.origin is None:
        return f"{spec.name} has no source to read"
    scope: list[ast.stmt] = ast.parse(Path(spec.origin).read_text(encoding="utf-8")).body
    for attribute in attributes:
        named = [node for node in scope if attribute in _names_bound(node)]
        if not named:
            return f"{spec.name} has no {'.'.join(attributes)}"
        scope = named[0].body if isinstance(named[0], ast.ClassDef) else []
    return None


def _names_bound(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    targets: list[ast.expr] = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AnnAssign):
        targets = [node.target]
    return {n.id for target in targets for n in ast.walk(target) if isinstance(n, ast.Name)}


def resolve_path(span: str, base: Path) -> str | None:
    """Why ``span`` (a path, maybe with ``:name`` or ``#anchor``) does not resolve, or None."""
    location, _, anchor = span.partition("#")
    location, _, attribute = location.partition(":")
    candidates = [ROOT / location, base / location]
    found = next((c for c in candidates if c.exists()), None)
    if found is None:
        return "no such file or directory in the repository"
    if anchor and found.suffix == ".md" and anchor not in github_anchors(found):
        return f"no heading with anchor #{anchor} in {found.relative_to(ROOT)}"
    if attribute:
        if found.suffix != ".py":
            return f"{location} is not a Python module"
        directory, *parts = found.resolve().relative_to(ROOT).with_suffix("").parts
        module = ".".join((IMPORT_NAMES.get(directory, directory), *parts))
        return resolve_attribute(f"{module}.{attribute}")
    return None


def resolve_document(span: str, base: Path) -> str | None:
    """Why a ``file.md#anchor`` does not resolve, or None."""
    location, _, anchor = span.partition("#")
    found = next((p for p in (base / location, ROOT / location) if p.is_file()), None)
    if found is None:
        return "no such document in the repository"
    if anchor not in github_anchors(found):
        return f"no heading with anchor #{anchor} in {found.relative_to(ROOT)}"
    return None


def why_broken(span: str, base: Path) -> str | None:
    """Why a name the prose uses does not resolve; None when it does or is not checked."""
    span = span.strip().rstrip(".,;")
    if _PLACEHOLDER.search(span) or _TOPIC.match(span) or span in MADE_BY_OPERATORS:
        return None
    if _PATH.match(span):
        return resolve_path(span, base)
    if _MARKDOWN_ANCHOR.match(span):
        return resolve_document(span, base)
    if _DOTTED.match(span):
        if _OLD_DOTTED.match(span):
            directory = span.split(".")[0]
            return f"imported as {IMPORT_NAMES[directory]}, not {directory}"
        return resolve_attribute(span)
    return None


def document_names(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for span in code_spans(line):
            yield number, span


def modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def docstrings(path: Path) -> Iterator[str]:
    """The module's docstring and those of its classes and functions."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            yield ast.get_docstring(node) or ""


def docstring_names(path: Path) -> Iterator[str]:
    for docstring in docstrings(path):
        roles = [m.group(1) for m in _ROLE.finditer(docstring)]
        plain = _ROLE.sub("", docstring)
        spans = [s for line in plain.replace("``", "`").splitlines() for s in code_spans(line)]
        yield from roles
        yield from spans
        yield from (m.group(1).rstrip(".,;:") for m in _BARE.finditer(plain))


# Sections named in prose, docstrings and comments: (docs/topics.md, "Keys").
_QUOTED_SECTION = re.compile(r'([\w./-]+\.md),\s+"([^"]+)"')
TEXT_FILES = ("*.py", "*.sql", "*.yml", "*.yaml", "*.toml", "*.xml", "*.md", "Makefile")


def quoted_sections(path: Path) -> Iterator[tuple[int, str, str]]:
    """(line, document, heading) of each section named by its heading, also across lines."""
    text = path.read_text(encoding="utf-8")
    for match in _QUOTED_SECTION.finditer(text):
        heading = " ".join(match.group(2).split())
        yield text.count("\n", 0, match.start()) + 1, match.group(1), heading


def why_section_missing(document: str, heading: str, base: Path) -> str | None:
    """Why a section named by its heading text in ``document`` is not there, or None."""
    return resolve_document(f"{document}#{anchor_of(heading)}", base)


def project_text_files() -> list[Path]:
    """The project's own text files (not the virtualenv's, caches' or build output's)."""
    found = []
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = [
            d for d in subdirectories if not d.startswith(".") and not d.endswith(".egg-info")
        ]
        found += [Path(directory, f) for f in files if any(fnmatch(f, p) for p in TEXT_FILES)]
    return sorted(found)


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_names_in_the_docs_resolve(document: Path) -> None:
    broken = [
        f"{document.relative_to(ROOT)}:{number}: `{span}`: {why}"
        for number, span in document_names(document)
        if (why := why_broken(span, document.parent)) is not None
    ]
    assert not broken, "\n".join(broken)


def test_names_in_module_docstrings_resolve() -> None:
    assert len(modules()) > 40
    broken = [
        f"{module.relative_to(ROOT)}: `{name}`: {why}"
        for module in modules()
        for name in docstring_names(module)
        if (why := why_broken(name, ROOT)) is not None
    ]
    assert not broken, "\n".join(broken)


def test_sections_named_by_their_heading_exist() -> None:
    broken = [
        f'{path.relative_to(ROOT)}:{number}: {document}, "{heading}": {why}'
        for path in project_text_files()
        for number, document, heading in quoted_sections(path)
        if (why := why_section_missing(document, heading, path.parent)) is not None
    ]
    assert not broken, "\n".join(broken)


def test_the_section_check_sees_a_missing_heading() -> None:
    assert why_section_missing("docs/topics.md", "Keys", ROOT) is None
    assert why_section_missing("docs/topics.md", "No such section", ROOT) is not None


def test_the_reference_check_sees_what_it_should() -> None:
    base = ROOT / "docs"
    assert why_broken("spur/worker/consume.py:consume_actions", base) is None
    assert why_broken("streams/batch.py:ActionsBatch.process", base) is None
    assert why_broken("spur_streams.batch.ActionsBatch", base) is None
    assert why_broken("spur_sinks.tables", base) is None
    assert why_broken("design.md#the-store-protocol", base) is None
    assert why_broken("docs/design.md#the-store-protocol", ROOT) is None
    assert why_broken("spur.actions.v1", base) is None  # a topic, not a module
    assert why_broken("spur/cli/*.py", base) is None  # a pattern, not checked
    assert why_broken("schemas/ddl/NNNN_name.sql", base) is None
    assert why_broken("spur/worker/missing.py", base) is not None
    assert why_broken("spur/worker/consume.py:no_such_function", base) is not None
    assert why_broken("spur_streams.batch.NoSuchClass", base) is not None
    assert why_broken("spur_streams.no_such_module", base) is not None
    # The directories are not import names, although a clone can import them.
    assert why_broken("streams.batch.ActionsBatch", base) is not None
    assert why_broken("schemas.topics", base) is not None
    assert why_broken("tests.schemas.test_validate", base) is None
    assert why_broken("design.md#no-such-heading", base) is not None
    assert why_broken("docs/design.md#no-such-heading", ROOT) is not None


def test_the_readme_stays_short_and_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150, "README.md: move details to docs/ (at most 150 lines)"
    (first_block, *_rest) = [b for b in text.split("```")[1::2] if b.startswith("sh")]
    assert [line.split()[:2] for line in first_block.splitlines()[1:]] == [
        ["make", "demo"],
        ["make", "test"],
    ]
