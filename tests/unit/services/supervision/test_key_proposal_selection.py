"""Key proposals chosen at the chair's meeting (services/supervision/key_selection.py) on the fakes
of supervision's ports: staff's list with the guidance share and its warning, the committee's decision
(strike, accept, add), the key-proposal registration with its leader, the points event published
once per proposal, and the notices to the leader, the proposers and the units."""

from __future__ import annotations

import pytest

from services.supervision import key_proposals, key_selection, operations
from services.supervision.models import KeyProposal, KeyProposalList
from services.supervision.rules import RulebookRules
from shared.errors import Conflict, Forbidden, InvalidInput

from .fakes import FakeSupervisionUnitOfWork

STAFF = {"user": "staff.wang", "roles": ["staff"]}
COMMITTEE = {"user": "committee.liu", "roles": ["committee"]}
LEADER = {"user": "vice.chair.chen", "roles": ["leader"]}
FILED = [f"2026-{i:04d}" for i in range(1, 21)]  # 20 filed proposals: 1 is 5%, 2 are 10%


def facts(year, numbers):
    """What intake answers: 20 filed proposals in 2026, each with its initiator and one co-signer."""
    filed = FILED if year == 2026 else []
    return {
        "year": year,
        "filed": len(filed),
        "filed_numbers": filed,
        "proposals": {
            n: {"number": n, "title": f"关于{n}的建议", "proposers": [f"member.{n[-2:]}", "member.co"]}
            for n in numbers
            if n in filed
        },
    }


@pytest.fixture
def uow(skipping_clock):
    return FakeSupervisionUnitOfWork()


@pytest.fixture(scope="module")
def rules():
    return RulebookRules()


def item(number, leader="vice.chair.chen", reason="涉及面广，群众关注"):
    return {"number": number, "reason": reason, "leader": leader}


def events(uow, routing_key):
    return uow.events(routing_key)


def test_the_guidance_share_comes_from_the_rulebook_and_warns_outside_it(rules):
    low, high = rules.key_proposal_share()
    assert (low, high) == (0.05, 0.10)
    assert key_selection.guidance(rules, 20, 1)["within"] is True
    assert key_selection.guidance(rules, 20, 2)["within"] is True
    above = key_selection.guidance(rules, 20, 3)
    assert above["within"] is False and above["share"] == 0.15 and "5%–10%" in above["warning"]
    assert key_selection.guidance(rules, 20, 0)["warning"].startswith("0 key proposals of 20")
    assert key_selection.guidance(rules, 0, 0)["share"] is None


def test_staff_propose_a_list_with_the_share_it_comes_to_and_the_committee_is_told(uow, rules):
    listed = key_selection.propose_list(
        uow, rules, 2026, {"items": [item(FILED[0]), item(FILED[1]), item(FILED[2])]}, STAFF, facts
    )
    assert listed["status"] == "proposed" and [i["title"] for i in listed["items"]][0] == "关于2026-0001的建议"
    # 3 of 20 is 15%: shown with a warning, not refused
    assert listed["guidance"]["key_proposals"] == 3 and listed["guidance"]["within"] is False
    assert "15.0%" in listed["guidance"]["warning"]
    [told] = events(uow, "notify.key_proposals_proposed")
    assert told["payload"]["recipients"] == ["role:committee"]
    # The committee reads the list and the share in Chinese (it read the English warning alone).
    text = told["payload"]["text"]
    assert text.startswith("建议名单共 3 件：")
    assert f"提案 {FILED[0]}《关于2026-0001的建议》" in text
    assert "占 15.0%，不在指导比例 5%–10% 之内" in text
    assert "key proposals" not in text
    assert uow.rows(KeyProposal) == []  # nothing is key before the decision


def test_a_list_names_only_filed_proposals_of_the_year_each_once(uow, rules):
    with pytest.raises(InvalidInput) as refused:
        key_selection.propose_list(uow, rules, 2026, {"items": [item(FILED[0]), item("2025-0003")]}, STAFF, facts)
    assert "not a proposal filed in 2026" in str(refused.value.details["items"]["1"]["number"])
    with pytest.raises(InvalidInput, match="key proposal list"):
        key_selection.propose_list(uow, rules, 2026, {"items": [item(FILED[0]), item(FILED[0])]}, STAFF, facts)
    with pytest.raises(InvalidInput):
        key_selection.propose_list(
            uow, rules, 2026, {"items": [{"number": FILED[0], "reason": " ", "leader": "x"}]}, STAFF, facts
        )
    assert uow.rows(KeyProposalList) == []  # a refused list keeps nothing


def test_only_staff_propose_and_only_the_committee_decides(uow, rules):
    with pytest.raises(Forbidden):
        key_selection.propose_list(uow, rules, 2026, {"items": [item(FILED[0])]}, COMMITTEE, facts)
    listed = key_selection.propose_list(uow, rules, 2026, {"items": [item(FILED[0])]}, STAFF, facts)
    for who in (STAFF, LEADER):
        with pytest.raises(Forbidden):
            key_selection.decide_list(uow, rules, listed["id"], {}, who, facts)


def test_the_decision_strikes_accepts_and_adds_and_marks_them_key_with_their_leaders(uow, rules):
    operations.open_deadlines(
        uow,
        RulebookRules(),
        {"number": FILED[1], "units": ["transport", "education"], "answering_units": ["transport"]},
        STAFF,
    )
    listed = key_selection.propose_list(uow, rules, 2026, {"items": [item(FILED[0]), item(FILED[1])]}, STAFF, facts)
    decided = key_selection.decide_list(
        uow,
        rules,
        listed["id"],
        {"strike": [FILED[0]], "add": [item(FILED[5], leader="vice.chair.liu", reason="主席会议增补")]},
        COMMITTEE,
        facts,
    )
    assert decided["status"] == "decided" and decided["decided_by"] == "committee.liu"
    assert {i["number"]: i["decision"] for i in decided["items"]} == {
        FILED[0]: "struck",
        FILED[1]: "accepted",
        FILED[5]: "added",
    }
    assert decided["guidance"]["key_proposals"] == 2 and decided["guidance"]["within"] is True
    assert {k.number: k.supervising_leader for k in uow.rows(KeyProposal)} == {
        FILED[1]: "vice.chair.chen",
        FILED[5]: "vice.chair.liu",
    }
    # the leader keeps the log of the chosen proposal, not of the struck one
    key_proposals.log_key_supervision(uow, FILED[1], "visit", "实地察看", LEADER)
    selected = {e["subject"]: e for e in events(uow, "proposal.key_selected")}
    assert sorted(selected) == [FILED[1], FILED[5]]
    assert selected[FILED[1]]["members"] == [
        {"member": "member.02", "role": "lead"},
        {"member": "member.co", "role": "co"},
    ]
    told = {e["subject"]: e["payload"]["recipients"] for e in events(uow, "notify.key_proposal_selected")}
    assert told[FILED[1]] == ["vice.chair.chen", "member.02", "member.co", "unit:education", "unit:transport"]
    assert told[FILED[5]] == ["vice.chair.liu", "member.06", "member.co"]  # not assigned yet: no unit


def test_a_decided_list_is_not_decided_again_and_a_key_proposal_is_not_chosen_twice(uow, rules):
    listed = key_selection.propose_list(uow, rules, 2026, {"items": [item(FILED[0])]}, STAFF, facts)
    key_selection.decide_list(uow, rules, listed["id"], {}, COMMITTEE, facts)
    with pytest.raises(Conflict):
        key_selection.decide_list(uow, rules, listed["id"], {}, COMMITTEE, facts)
    with pytest.raises(InvalidInput, match="filed proposals") as refused:
        key_selection.propose_list(uow, rules, 2026, {"items": [item(FILED[0])]}, STAFF, facts)
    assert "a key proposal already" in str(refused.value.details)
    # the points event has one id per proposal: the ledger books it once
    assert [e["event_id"] for e in events(uow, "proposal.key_selected")] == [f"proposal.key_selected:{FILED[0]}"]


def test_a_new_list_replaces_an_undecided_one_and_the_decision_checks_what_it_strikes(uow, rules):
    first = key_selection.propose_list(uow, rules, 2026, {"items": [item(FILED[0])]}, STAFF, facts)
    second = key_selection.propose_list(uow, rules, 2026, {"items": [item(FILED[1])]}, STAFF, facts)
    with pytest.raises(Conflict, match="replaced"):
        key_selection.decide_list(uow, rules, first["id"], {}, COMMITTEE, facts)
    with pytest.raises(InvalidInput, match="only listed"):
        key_selection.decide_list(uow, rules, second["id"], {"strike": [FILED[0]]}, COMMITTEE, facts)
    with pytest.raises(InvalidInput, match="filed proposals"):
        key_selection.decide_list(uow, rules, second["id"], {"add": [item("2026-9999")]}, COMMITTEE, facts)
    assert uow.key_proposals.key_list(second["id"]).status == "proposed"  # a refused decision changes nothing
    year = key_selection.year_view(uow, rules, 2026, LEADER, facts)
    assert [row["status"] for row in year["lists"]] == ["proposed", "replaced"]
    assert year["guidance"]["key_proposals"] == 0 and year["guidance"]["warning"]


def test_a_key_flag_set_at_assignment_by_an_older_diagram_stays_and_counts(uow, rules):
    operations.open_deadlines(
        uow,
        RulebookRules(),
        {"number": FILED[3], "units": ["transport"], "key_proposal": True, "supervising_leader": "vice.chair.chen"},
        STAFF,
    )
    # the reassignment form of today passes False: the registration stays
    operations.open_deadlines(
        uow, RulebookRules(), {"number": FILED[3], "units": ["health"], "key_proposal": False}, STAFF
    )
    assert uow.key_proposals.get(FILED[3]).supervising_leader == "vice.chair.chen"
    year = key_selection.year_view(uow, rules, 2026, STAFF, facts)
    assert year["key_proposals"] == [{"number": FILED[3], "supervising_leader": "vice.chair.chen"}]
    assert year["guidance"]["key_proposals"] == 1 and year["guidance"]["within"] is True
