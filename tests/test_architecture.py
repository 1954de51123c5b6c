"""The shape of the code that a newcomer reads first (docs/design.md#layers).

Import layers and cycles are checked by import-linter (`make test` runs
`lint-imports` with the contracts in pyproject.toml); what import-linter
cannot say is how big a module may grow before it holds several jobs.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schemas", "streams", "sinks", "spur")
# A module longer than this nearly always does more than one thing; split it
# by responsibility rather than raising the limit.
MAX_LINES = 300


def modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def test_the_packages_hold_modules() -> None:
    # Guards the test below against passing on an empty glob.
    assert len(modules()) > 40


@pytest.mark.parametrize("module", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_longer_than_the_limit(module: Path) -> None:
    lines = len(module.read_text(encoding="utf-8").splitlines())
    name = module.relative_to(ROOT)
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by responsibility"
