"""docs/contracts.md is what ``python -m shared.contracts`` generates from the code."""

from shared.config import ROOT
from shared.contracts.__main__ import document


def test_the_contracts_document_is_in_step_with_the_code():
    committed = (ROOT / "docs" / "contracts.md").read_text(encoding="utf-8")
    assert committed == document(), "regenerate it: python -m shared.contracts > docs/contracts.md"
