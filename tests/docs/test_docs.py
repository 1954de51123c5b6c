"""The project's own documentation stays true to the repository and the code.

Unit tests: no broker, no store. What they hold the docs to:

- every relative link in README.md and docs/*.md resolves to a file or
  directory of the repository (a clone has nothing outside it), anchors
  included;
- docs/cli.md names every command the ``spur`` command line lists;
- docs/topics.md names every topic of the code's topic enum, and no other;
- the kcat examples of docs/topics.md publish what spur's own client would:
  the same topic and the same Kafka key for the same event;
- docs/events.md links every JSON Schema and names every reason code.

The code is imported lazily and defensively (modules are being moved
between packages): the command line through ``spur.cli.main`` or the
``spur`` console script, the topic enum from ``spur_schemas.topics`` or
``spur.topics``, the key function from ``spur.client``.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
import shlex
import uuid
from collections.abc import Callable, Iterator
from enum import Enum
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any, cast

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


# -- reading Markdown -------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")
_INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]"  # [text], brackets nested one level deep
    r"\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"  # (target "optional title")
)
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
_CODE_SPAN = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) of everything outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def code_blocks(text: str) -> list[str]:
    """The contents of the fenced code blocks, in order."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if _FENCE.match(line):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def code_spans(line: str) -> list[str]:
    return [match.group(2).strip() for match in _CODE_SPAN.finditer(line)]


def is_path_reference(span: str) -> bool:
    """A code span that refers to another document by relative path.

    Markdown links are links; besides them, a code span such as
    `../elsewhere/SPEC.md` is how a document points a reader at a file.
    Counted: spans that leave the directory (``../``), start at it (``./``)
    or name a Markdown file. Paths of code modules (``spur/...``) are not:
    they describe where code lives today, not where to read on.
    """
    if any(c.isspace() for c in span) or any(c in span for c in "*?<>{}$"):
        return False
    if _SCHEME.match(span):
        return False
    return span.startswith(("../", "./")) or span.endswith(".md")


def links(path: Path) -> list[tuple[int, str]]:
    """(line number, target) of every relative link in a Markdown file."""
    found: list[tuple[int, str]] = []
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        without_spans = _CODE_SPAN.sub("", line)
        targets = [m.group(1) for m in _INLINE_LINK.finditer(without_spans)]
        reference = _REFERENCE.match(without_spans)
        if reference:
            targets.append(reference.group(1))
        targets += [span for span in code_spans(line) if is_path_reference(span)]
        found += [(number, t) for t in targets if not _SCHEME.match(t) and not t.startswith("//")]
    return found


def anchor_of(heading: str) -> str:
    """The anchor GitHub gives a heading's text (before numbering repeats)."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def github_anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for _number, line in prose_lines(path.read_text(encoding="utf-8")):
        heading = _HEADING.match(line)
        if not heading:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.group(1))
        slug = anchor_of(text)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def broken_link(source: Path, target: str) -> str | None:
    """Why ``target`` (a link in ``source``) does not resolve in the repository, or None."""
    location, _, anchor = target.partition("#")
    resolved = (source.parent / location).resolve() if location else source
    if not resolved.is_relative_to(ROOT):
        return "points outside the repository (a clone does not have it)"
    if not resolved.exists():
        return "no such file in the repository"
    if anchor and resolved.suffix == ".md" and anchor not in github_anchors(resolved):
        return f"no heading with anchor #{anchor} in {resolved.relative_to(ROOT)}"
    return None


# -- (a) links ------------------------------------------------------------------------


def test_the_docs_directory_has_the_contract() -> None:
    for name in ("README.md", "events.md", "topics.md", "guarantees.md", "cli.md"):
        assert (DOCS / name).is_file(), f"docs/{name} is missing"


@pytest.mark.parametrize("document", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_in_the_repository(document: Path) -> None:
    broken = [
        f"{document.relative_to(ROOT)}:{number}: {target}: {why}"
        for number, target in links(document)
        if (why := broken_link(document, target)) is not None
    ]
    assert not broken, "\n".join(broken)


def test_the_link_check_sees_a_design_reference_outside_the_clone(tmp_path: Path) -> None:
    # What the README said before docs/ existed: a code span, not a Markdown link.
    page = ROOT / "README.md"
    line = "The contracts are in `../elsewhere/SPEC.md`; see [events](docs/events.md)."
    targets = [t for _n, t in _links_of_text(line, tmp_path)]
    assert targets == ["docs/events.md", "../elsewhere/SPEC.md"]
    assert broken_link(page, "../elsewhere/SPEC.md") is not None
    assert broken_link(page, "docs/missing.md") is not None
    assert broken_link(page, "docs/events.md#no-such-heading") is not None


def _links_of_text(text: str, tmp_path: Path) -> list[tuple[int, str]]:
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return links(page)


# -- (b) the command line ---------------------------------------------------------------


def spur_command() -> click.Command:
    """The ``spur`` click command, wherever it lives now.

    ``main`` of ``spur.cli.main`` (a module of the ``spur.cli`` package) or
    of ``spur.cli`` (a module); else whatever the ``spur`` console script names.
    """
    for name in ("spur.cli.main", "spur.cli"):
        try:
            found = importlib.import_module(name).main
        except (ImportError, AttributeError):
            continue
        if isinstance(found, ModuleType):  # `spur.cli.main` the module, not the command
            found = getattr(found, "main", None)
        if isinstance(found, click.Command):
            return found
    (script,) = metadata.entry_points(group="console_scripts", name="spur")
    return cast(click.Command, script.load())


def command_paths(command: click.Command, prefix: tuple[str, ...] = ()) -> list[str]:
    """Every command and subcommand as `spur --help` and each group's --help list them."""
    paths: list[str] = []
    if isinstance(command, click.Group):
        context = click.Context(command, info_name=" ".join(("spur", *prefix)))
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is None or sub.hidden:
                continue
            paths.append(" ".join((*prefix, name)))
            paths += command_paths(sub, (*prefix, name))
    return paths


def test_cli_doc_names_every_command_and_subcommand() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    paths = command_paths(spur_command())
    assert {"billing", "billing close", "dev up", "worker"} <= set(paths)
    missing = [p for p in paths if not re.search(rf"`spur {re.escape(p)}(?![\w-])", text)]
    assert not missing, f"docs/cli.md does not mention: {', '.join('spur ' + p for p in missing)}"


def command_of(usage: str) -> str:
    """The command path of a usage line: `spur produce FILE` -> `produce`."""
    words = usage.split()[1:]
    path = []
    for word in words:
        if not re.fullmatch(r"[a-z][a-z0-9-]*", word):
            break
        path.append(word)
    return " ".join(path)


def test_cli_doc_headings_are_commands_that_exist() -> None:
    paths = set(command_paths(spur_command()))
    headings = [
        command_of(span)
        for _n, line in prose_lines((DOCS / "cli.md").read_text(encoding="utf-8"))
        if _HEADING.match(line)
        for span in code_spans(line)
        if span.startswith("spur ")
    ]
    assert headings, "docs/cli.md has no `spur ...` headings"
    unknown = [h for h in headings if h not in paths]
    assert not unknown, f"docs/cli.md documents commands spur does not have: {unknown}"


# -- (c) topics -------------------------------------------------------------------------


def topic_enum() -> type[Enum]:
    """The code's topic enum, wherever it lives now."""
    for module in ("spur_schemas.topics", "spur.topics"):
        try:
            return cast(type[Enum], importlib.import_module(module).Topic)
        except (ImportError, AttributeError):
            continue
    raise AssertionError("no Topic enum in spur_schemas.topics or spur.topics")


def test_topics_doc_names_every_topic_of_the_code_and_no_other() -> None:
    text = (DOCS / "topics.md").read_text(encoding="utf-8")
    declared = {str(topic.value) for topic in topic_enum()}
    assert "spur.actions.v1" in declared
    named = set(re.findall(r"\bspur\.[a-z]+\.v[0-9]+\b", text))
    assert declared - named == set(), f"docs/topics.md does not name {declared - named}"
    assert named - declared == set(), f"docs/topics.md names unknown topics {named - declared}"


# -- (d) the kcat examples produce what spur's client produces --------------------------

Substitutions = dict[str, str]


def shell_lines(block: str) -> list[str]:
    """The block's commands: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip()]


def variables(block: str) -> Substitutions:
    """What the example's variables hold when run now: $(date -u +FMT), a fresh UUID, literals."""
    values: Substitutions = {}
    for line in shell_lines(block):
        assignment = re.match(r"^([A-Z_]+)=(\$\([^)]*\)|\S+)", line)
        if not assignment:
            continue
        name, value = assignment.groups()
        date = re.fullmatch(r"\$\(date -u \+([^)\s]+)\)", value)
        if date:
            values[name] = dt.datetime.now(dt.UTC).strftime(date.group(1))
        elif "uuid" in value:
            values[name] = str(uuid.uuid4())
        else:
            values[name] = value
    return values


def expand(word: str, values: Substitutions) -> str:
    def value_of(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in values, f"${name} is not set in the example"
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value_of, word)


def option(words: list[str], flag: str) -> str | None:
    return words[words.index(flag) + 1] if flag in words else None


def produced(block: str) -> list[tuple[str, bytes | None, bytes]]:
    """(topic, key, value) of each `printf ... | kcat -P ...` pipeline in a shell block."""
    values = variables(block)
    messages = []
    for line in shell_lines(block):
        if "kcat" not in line or " -P" not in line:
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars="|")
        lexer.whitespace_split = True
        words = list(lexer)
        pipe = words.index("|")
        printf, kcat = words[:pipe], words[pipe + 1 :]
        assert printf[0] == "printf", f"expected `printf FORMAT ARGS | kcat -P ...`: {line}"
        fmt, args = printf[1], [expand(a, values) for a in printf[2:]]
        assert fmt.endswith("\\n"), "each message is one line"
        pieces = fmt.removesuffix("\\n").split("%s")
        assert len(pieces) == len(args) + 1, f"one argument per %s: {line}"
        value = "".join(p + a for p, a in zip(pieces, [*args, ""], strict=True))
        topic = option(kcat, "-t")
        key = option(kcat, "-k")
        assert topic is not None, f"no -t TOPIC: {line}"
        assert option(kcat, "-X") == "topic.partitioner=murmur2_random", (
            "spur's client partitions like Java's (murmur2); kcat's default (CRC32) does not"
        )
        messages.append(
            (expand(topic, values), None if key is None else expand(key, values).encode(), value)
        )
    return [(t, k, v.encode()) for t, k, v in messages]


def as_event(value: bytes) -> Any:
    """The value decoded as the one contract event type it is, judged as the worker would."""
    validate = importlib.import_module("spur_schemas.validate")
    event_types = importlib.import_module("spur_schemas.jsonschema").EVENT_TYPES
    limits = validate.TimeLimits(clock_skew=dt.timedelta(minutes=5), retention=None)
    now = dt.datetime.now(dt.UTC)
    decoded = [validate.validate(value, kind, now, limits) for kind in event_types.values()]
    events = [d for d in decoded if not isinstance(d, validate.Rejection)]
    assert len(events) == 1, f"{value!r} is not exactly one event type: {decoded}"
    return events[0]


def key_function() -> Callable[[Any], tuple[str, bytes | None]]:
    return cast(
        Callable[[Any], tuple[str, bytes | None]],
        importlib.import_module("spur.client").topic_and_key,
    )


def test_kcat_examples_publish_what_spurs_client_publishes() -> None:
    text = (DOCS / "topics.md").read_text(encoding="utf-8")
    examples = [m for block in code_blocks(text) for m in produced(block)]
    topics = {topic for topic, _key, _value in examples}
    assert {"spur.actions.v1", "spur.consent.v1"} <= topics, "an action and a consent example"
    for topic, key, value in examples:
        event = as_event(value)
        assert key_function()(event) == (topic, key), (
            f"kcat publishes {value!r} to {topic} with key {key!r}; "
            f"spur's client would use {key_function()(event)}"
        )


def test_the_kcat_example_for_dead_letters_reads_their_topic() -> None:
    text = (DOCS / "topics.md").read_text(encoding="utf-8")
    readers = [
        line
        for block in code_blocks(text)
        for line in shell_lines(block)
        if "kcat" in line and " -C" in line
    ]
    dead_letters = str(topic_enum()["DEADLETTER"].value)
    assert any(f"-t {dead_letters}" in line for line in readers), readers


# -- events ------------------------------------------------------------------------------


def test_events_doc_links_every_json_schema() -> None:
    page = DOCS / "events.md"
    linked = {(page.parent / target).resolve() for _n, target in links(page)}
    schemas = sorted((ROOT / "schemas" / "json").glob("*.schema.json"))
    assert schemas
    missing = [str(s.relative_to(ROOT)) for s in schemas if s.resolve() not in linked]
    assert not missing, f"docs/events.md does not link {missing}"


def test_events_doc_names_every_reason_code() -> None:
    text = (DOCS / "events.md").read_text(encoding="utf-8")
    reasons: tuple[str, ...] = importlib.import_module("spur_schemas.validate").REASONS
    missing = [r for r in reasons if f"`{r}`" not in text]
    assert not missing, f"docs/events.md does not name the reason codes {missing}"
