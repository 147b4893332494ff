"""The product's diagram scenarios, read from the scenario files beside the diagrams."""

from __future__ import annotations

import functools

import pytest

from shared.config import ROOT
from shared.workflow import scenarios

PRODUCT_DIAGRAMS = ("smoke", "proposal", "opinion", "micro_consultation")


@functools.cache
def suite(name: str) -> scenarios.Suite:
    """The diagram's scenario file, read and its diagram parsed once per test process (a run of the
    suite changes neither; ``ztc test`` runs every scenario of a file on one suite too)."""
    return scenarios.load(ROOT / "bpmn" / f"{name}{scenarios.SUFFIX}")


def parametrize(name: str):
    """``@parametrize("proposal")``: one test per scenario of the diagram's file, named as it is."""
    loaded = suite(name)
    return pytest.mark.parametrize("scenario", [pytest.param(s, id=s["name"]) for s in loaded.scenarios])


def run(name: str, scenario: dict) -> None:
    result = scenarios.run(suite(name), scenario)
    assert result.passed, f"{scenario['name']}: {result.message}"
