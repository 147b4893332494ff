"""proposal.bpmn driven through its paths by the runtime alone, with a skipping clock and a
save/restore at every wait state: every scenario of bpmn/proposal.scenarios.yaml (what `ztc test`
runs). Job results stand in for the services; the services' own rules are tested in their tiers."""

from __future__ import annotations

from tests.bpmn import scenario_files


@scenario_files.parametrize("proposal")
def test_proposal_scenario(scenario):
    scenario_files.run("proposal", scenario)
