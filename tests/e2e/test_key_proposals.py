"""Key proposals chosen at the chair's meeting end to end, every service its own process on the real
broker: staff propose a list with reasons and leaders, the committee strikes and adds, the chosen
proposals are supervised by their leaders, leader, proposer and unit are told, and the proposer's
key-proposal points are booked once. The assign task no longer marks key proposals."""

from __future__ import annotations

from tests.support import wait_for

from .test_proposal_lifecycle import Api, file_it, submit


def filed(api, number):
    wait_for(
        lambda: (
            (api("staff", "GET", f"/api/proposals/{number}", expect=200).json().get("filing") or {}).get("decision")
            == "filed"
        ),
        timeout=60,
        message=f"{number} filed",
    )
    return number


def told(api, who, number, kind="key_proposal_selected"):
    return [
        n
        for n in api(who, "GET", "/api/notifications", expect=200).json()
        if n["subject"] == number and n["kind"] == kind
    ]


def test_staff_propose_the_chairs_meeting_decides_and_the_chosen_are_supervised_by_their_leaders(running):
    api = Api(*running)
    chosen, struck, added = (submit(api) for _ in range(3))
    for number in (chosen, struck, added):
        file_it(api, number)
        filed(api, number)
    year = int(chosen.split("-")[0])
    api.complete("staff", "assign", chosen, {"mode": "single", "units": ["transport"]})
    api.assignment("unit", chosen)
    # the assign task no longer marks key proposals: the field is refused, and nothing changes
    task = api.task("staff", "assign", struck)
    refused = api(
        "staff",
        "POST",
        f"/api/tasks/{task['task_id']}/complete",
        {"data": {"mode": "single", "units": ["transport"], "key_proposal": True, "supervising_leader": "leader.chen"}},
        expect=400,
    ).json()
    assert "key_proposal" in str(refused)
    assert api.task("staff", "assign", struck)["task_id"] == task["task_id"]

    items = [
        {"number": chosen, "reason": "涉及学生安全，群众关注度高", "leader": "leader.chen"},
        {"number": struck, "reason": "与交通安全相关", "leader": "leader.chen"},
    ]
    for who in ("member", "committee", "leader"):
        api(who, "POST", f"/api/key-proposals/{year}/list", {"items": items}, expect=403)
    bad = api(
        "staff",
        "POST",
        f"/api/key-proposals/{year}/list",
        {"items": [*items, {"number": f"{year}-9999", "reason": "x", "leader": "leader.chen"}]},
        expect=400,
    ).json()
    assert "not a proposal filed" in str(bad["details"])
    # A leader nobody can sign in as would leave the key proposal's log with nobody to keep it.
    nobody = [items[0], {**items[1], "leader": "nobody.here"}]
    unknown = api("staff", "POST", f"/api/key-proposals/{year}/list", {"items": nobody}, expect=400).json()
    assert unknown["details"]["items"] == {
        "1": {"leader": ["'nobody.here' holds the leader role in no console account or token"]}
    }
    listed = api("staff", "POST", f"/api/key-proposals/{year}/list", {"items": items}, expect=201).json()
    guidance = listed["guidance"]
    assert (guidance["share_min"], guidance["share_max"]) == (0.05, 0.10)  # the rulebook's guidance
    assert guidance["share"] == round(guidance["key_proposals"] / guidance["filed"], 4)
    assert guidance["within"] == (0.05 <= guidance["share"] <= 0.10)
    assert (guidance["warning"] is None) == guidance["within"]  # a warning, never a refusal
    assert [i["decision"] for i in listed["items"]] == [None, None]
    wait_for(
        lambda: told(api, "committee", f"key-proposals-{year}", "key_proposals_proposed"),
        timeout=60,
        message="the committee told a list waits",
    )

    decision = {"strike": [struck], "add": [{"number": added, "reason": "主席会议增补", "leader": "leader.chen"}]}
    api("staff", "POST", f"/api/key-proposals/lists/{listed['id']}/decision", decision, expect=403)
    decided = api("committee", "POST", f"/api/key-proposals/lists/{listed['id']}/decision", decision, expect=200).json()
    assert {i["number"]: i["decision"] for i in decided["items"]} == {
        chosen: "accepted",
        struck: "struck",
        added: "added",
    }
    api("committee", "POST", f"/api/key-proposals/lists/{listed['id']}/decision", {}, expect=409)

    year_view = api("leader", "GET", f"/api/key-proposals/{year}", expect=200).json()
    leaders = {k["number"]: k["supervising_leader"] for k in year_view["key_proposals"]}
    assert leaders[chosen] == leaders[added] == "leader.chen" and struck not in leaders
    assert year_view["lists"][0]["status"] == "decided"

    # the leader supervises the chosen ones, not the struck one
    api(
        "leader",
        "POST",
        f"/api/proposals/{chosen}/supervision-log",
        {"kind": "visit", "text": "实地察看学校门前路口"},
        expect=201,
    )
    api("leader", "POST", f"/api/proposals/{struck}/supervision-log", {"kind": "visit", "text": "x"}, expect=404)
    log = api("member", "GET", f"/api/proposals/{chosen}/supervision-log", expect=200).json()
    assert log["supervising_leader"] == "leader.chen" and [e["kind"] for e in log["entries"]] == ["visit"]

    # leader, proposer and unit are told, once each
    for who in ("leader", "member", "unit"):
        notices = wait_for(lambda who=who: told(api, who, chosen), timeout=60, message=f"{who} told")
        assert len(notices) == 1
    assert told(api, "unit", added) == []  # not assigned yet: no unit to tell
    assert told(api, "member", struck) == []

    # the key proposal's points, booked once for the proposer
    def entries():
        rows = api("staff", "GET", "/api/performance/members/member.li/file", expect=200).json()["entries"]
        return [e for e in rows if (e["event"] or {}).get("subject") == chosen and e["activity"] == "key_proposal_lead"]

    [entry] = wait_for(entries, timeout=60, message="the key proposal's points")
    assert entry["points"] == 15 and entry["event"]["event_id"] == f"proposal.key_selected:{chosen}"
