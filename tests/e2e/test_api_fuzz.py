"""The API fuzzed from its own /openapi.json with schemathesis, against the running system, as a
member and as staff: valid and invalid requests for every operation, a fixed seed and a bounded
number of examples: a fixed amount of work (the bound is the number of examples, not a clock, so a
busy machine takes longer but runs the same cases). ``make test`` runs 4 examples per operation,
mode and token; ``make fuzz`` (``ZTC_FUZZ_EXAMPLES=50``) the deep form. Every
answer must be no server
error, a status the document lists for the operation, a documented content type, and a body that
fits the documented schema."""

from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from services.gateway import openapi
from services.gateway.service import GatewayService

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# per operation, mode and token (~90 operations x 2 modes x 2 tokens)
EXAMPLES = int(os.environ.get("ZTC_FUZZ_EXAMPLES", "4"))
OPERATIONS = sorted(
    (method.upper(), path) for path, ops in openapi.build(GatewayService)["paths"].items() for method in ops
)


@pytest.fixture(scope="module")
def fuzzing(request):
    """The schema as the running gateway serves it (fuzzed once, on PostgreSQL like the other
    scenarios: what it exercises is the HTTP edge)."""
    base, _ = request.getfixturevalue("running")
    return {"schema": schemathesis.openapi.from_url(base + "/openapi.json")}


@pytest.mark.parametrize("who", ["member", "staff"])
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_the_api_answers_as_documented(fuzzing, running, who, method, path):
    base, tokens = running
    operation = fuzzing["schema"][path][method]
    session = requests.Session()
    headers = {"Authorization": f"Bearer {tokens[who]}"}
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            case.call_and_validate(base_url=base, session=session, headers=headers, checks=CHECKS, timeout=30)

        try:
            fuzz()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # an operation with nothing to send wrong (GET /health)
