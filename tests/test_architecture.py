"""The shape of the code that a newcomer reads first (docs/design.md#layers).

Import layers and cycles are checked by import-linter (`make test` runs
`lint-imports` with the contracts in pyproject.toml); what import-linter
cannot say is how big a module may grow before it holds several jobs.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schemas", "streams", "sinks", "spur")
# The size rules hold for the benchmarks too: a newcomer reads them to trust a figure.
SIZED = (*PACKAGES, "bench")
# A module longer than this nearly always does more than one thing; split it
# by responsibility rather than raising the limit.
MAX_LINES = 300


def modules(packages: tuple[str, ...] = PACKAGES) -> list[Path]:
    return sorted(path for package in packages for path in (ROOT / package).rglob("*.py"))


def test_the_packages_hold_modules() -> None:
    # Guards the test below against passing on an empty glob.
    assert len(modules()) > 40
    assert any(path.parent.name == "bench" for path in modules(SIZED))


@pytest.mark.parametrize("module", modules(SIZED), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_longer_than_the_limit(module: Path) -> None:
    lines = len(module.read_text(encoding="utf-8").splitlines())
    name = module.relative_to(ROOT)
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it by responsibility"


def _project_names() -> tuple[set[str], set[str]]:
    """The modules' own names (``windows`` for sinks/windows.py) and every top-level
    function and class name defined in the packages."""
    # Packages too (``cli`` for spur/cli/): an alias named like one reads as it.
    module_names = {
        path.stem if path.stem != "__init__" else path.parent.name for path in modules()
    }
    defined = {
        node.name
        for path in modules()
        for node in ast.parse(path.read_text(encoding="utf-8")).body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    return module_names, defined


def borrowed_aliases() -> list[str]:
    """Imports renamed to the name of another module or definition of the project:
    ``from spur_sinks import reconcile as windows`` reads as sinks/windows.py."""
    module_names, defined = _project_names()
    found = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for alias in node.names:
                if alias.asname is None or alias.asname == alias.name.rsplit(".", 1)[-1]:
                    continue
                if alias.asname in module_names or alias.asname in defined:
                    found.append(f"{path.relative_to(ROOT)}: {alias.name} as {alias.asname}")
    return found


def test_an_import_alias_never_borrows_another_name_of_the_project() -> None:
    assert borrowed_aliases() == [], "rename these aliases to what they are"


def test_the_alias_rule_sees_a_borrowed_name() -> None:
    # Guards the test above: sinks/windows.py makes ``windows`` a taken name.
    module_names, _ = _project_names()
    assert "windows" in module_names
    assert "store" in module_names
    assert "cli" in module_names


# A function whose body (its docstring aside) is longer than this does
# several things; the module cap above alone let a 300-line file hold one.
MAX_FUNCTION_LINES = 60


def long_functions() -> list[str]:
    found = []
    for path in modules(SIZED):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            body = node.body
            if ast.get_docstring(node) is not None:
                body = body[1:]
            if not body:
                continue
            lines = (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1
            if lines > MAX_FUNCTION_LINES:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines")
    return found


def test_no_function_is_longer_than_the_limit() -> None:
    assert long_functions() == [], "split these functions by what they do"


# A command's layers share its name: spur/cli/X.py (options, output),
# spur/operations/X.py (the work), sinks/X.py (its SQL). Settings groups are
# named after what they configure and read only as spur.settings' fields.
COMMAND_LAYERS = ("spur/cli", "spur/operations", "sinks")
NAMED_AFTER_WHAT_THEY_CONFIGURE = "spur/settings"


def shared_module_names(paths: list[Path]) -> dict[str, list[str]]:
    """Module names used by more than two places (a command's layers count once)."""
    places: dict[str, set[str]] = {}
    for path in paths:
        folder = str(path.parent.relative_to(ROOT))
        if path.name == "__init__.py" or folder == NAMED_AFTER_WHAT_THEY_CONFIGURE:
            continue
        place = "a command's layers" if folder in COMMAND_LAYERS else folder
        places.setdefault(path.stem, set()).add(place)
    return {name: sorted(where) for name, where in places.items() if len(where) > 2}


def test_no_module_name_means_three_things() -> None:
    assert shared_module_names(modules()) == {}, "give these modules names that say what each is"


def test_the_name_rule_sees_a_name_shared_three_ways() -> None:
    layers = [
        ROOT / "spur/cli/store.py",
        ROOT / "spur/operations/store.py",
        ROOT / "sinks/store.py",
    ]
    assert shared_module_names(layers) == {}
    named = [*layers, ROOT / "spur/dev/store.py", ROOT / "streams/steps/store.py"]
    assert shared_module_names(named) == {
        "store": ["a command's layers", "spur/dev", "streams/steps"]
    }
