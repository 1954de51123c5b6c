"""Where a py-spy profile spent its samples: the project's functions, the hottest leaves.

py-spy's ``--format raw`` writes collapsed stacks, one line per distinct
stack: its frames from the outermost to the running one, separated by ";",
then how many samples caught it, e.g.
``<module> (spur/__main__.py:3);process (streams/batch.py:143) 57``. py-spy
names a file relative to the ``sys.path`` entry it was found under, so the
project's own files start with its package names.

- A function's *inclusive* share: of all samples, those whose stack holds it
  (it, or something it called, was running). Read it top-down: which of
  spur's steps the time goes to.
- A leaf's *self* share: of all samples, those in which it was the running
  frame. Read it bottom-up: what the time is spent doing (a C call shows as
  the Python line that made it).

Frames are counted by function and file, their line dropped: the samples of
one function's lines add up. :func:`summary` is pure (text in, text out);
``python -m bench.stacks FILE`` prints it for a file py-spy wrote.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from bench.local import stop_on_sigterm

# The directories, and the names they are installed under (pyproject.toml's
# package-dir): py-spy names a file after the sys.path entry it was found in,
# so an installed worker's batch step reads "spur_streams/...".
PROJECT = (
    "streams/", "sinks/", "schemas/", "spur/", "spur_streams/", "spur_sinks/", "spur_schemas/",
)  # fmt: skip
# "process (streams/batch.py:143)" -> "process (streams/batch.py)"; py-spy writes the line last.
LINE = re.compile(r":\d+\)$")

Stack = tuple[list[str], int]  # frames outermost first, samples


def parse(raw: str) -> list[Stack]:
    """The stacks of a raw collapsed-stack text; lines without a count are skipped."""
    stacks = []
    for line in raw.splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append(([LINE.sub(")", f) for f in frames.split(";")], int(count)))
    return stacks


def is_project(frame: str) -> bool:
    """Whether ``frame`` ("function (file)") runs code of spur's own packages."""
    _, _, file = frame.rpartition(" (")
    return file.startswith(PROJECT)


def inclusive(stacks: Iterable[Stack]) -> Counter[str]:
    """Samples per function whose stack holds it, counted once per stack (recursion)."""
    counts: Counter[str] = Counter()
    for frames, samples in stacks:
        for frame in set(frames):
            counts[frame] += samples
    return counts


def leaves(stacks: Iterable[Stack]) -> Counter[str]:
    """Samples per function that was the running frame."""
    counts: Counter[str] = Counter()
    for frames, samples in stacks:
        counts[frames[-1]] += samples
    return counts


def ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    """Most samples first; ties by name, so that a summary reads the same every time."""
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def table(title: str, counts: Iterable[tuple[str, int]], total: int) -> list[str]:
    return [title, *(f"{100 * n / total:6.1f}%  {frame}" for frame, n in counts)]


def summary(raw: str, project_top: int = 25, leaf_top: int = 15) -> str:
    """The project's functions by inclusive share, then the leaves by self share."""
    stacks = parse(raw)
    total = sum(samples for _, samples in stacks)
    if total == 0:
        return "no samples"
    ours = [(f, n) for f, n in ranked(inclusive(stacks)) if is_project(f)]
    return "\n".join(
        [
            f"{total} samples",
            *table("project functions, inclusive share:", ours[:project_top], total),
            *table("leaf functions, self share:", ranked(leaves(stacks))[:leaf_top], total),
        ]
    )


def main() -> None:
    """``python -m bench.stacks FILE [FILE...]``: the summary of each py-spy raw file."""
    stop_on_sigterm()
    for name in sys.argv[1:]:
        print(f"{name}:\n{summary(Path(name).read_text())}")


if __name__ == "__main__":
    main()
