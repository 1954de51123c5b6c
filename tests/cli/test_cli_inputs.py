"""Bad command-line input exits 2 with a message naming it, before anything is opened."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from spur.cli.main import main


@pytest.mark.parametrize("customer", ["-1", "0", "4294967296", "abc"])
@pytest.mark.parametrize(
    "command",
    [["billing", "--month", "2026-11"], ["export"], ["erase", "--yes"]],
)
def test_one_rule_for_customer_ids(command: list[str], customer: str) -> None:
    result = CliRunner().invoke(main, [*command, f"--customer={customer}"])
    assert result.exit_code == 2, result.output
    assert "--customer" in result.output
