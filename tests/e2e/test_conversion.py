"""A proposal not filed and converted to an opinion item (转为社情民意信息) becomes one, every service its
own process: the item is made in the proposal's thread, in its member's name, and its opinion process
starts (the editors get their task); the thread shows both."""

from __future__ import annotations

from tests.support import wait_for

from .test_proposal_lifecycle import Api, submit


def test_a_proposal_converted_to_an_opinion_item_starts_its_opinion_process_in_the_same_thread(running):
    api = Api(*running)
    number = submit(api)
    api.complete("staff", "pre_review", number, {"eligible": True, "content_ok": False, "format_ok": True})
    api.complete(
        "committee",
        "filing_decision",
        number,
        {"decision": "not_filed", "reason_code": "no_concrete_suggestion", "convert_to": "opinion"},
    )
    wait_for(lambda: api.status(number) == "not_filed", timeout=60, message="the filing record")
    proposal = api("member", "GET", f"/api/proposals/{number}", expect=200).json()
    converted = proposal["filing"]["converted_to"]
    assert converted["kind"] == "opinion"
    item = api("member", "GET", f"/api/opinions/{converted['reference']}", expect=200).json()
    assert item["status"] == "submitted" and item["title"] == proposal["title"]
    assert item["thread"] == (proposal.get("thread") or number)
    api.task("staff", "edit", item["number"])  # its opinion process started: the editors' task
    thread = api("member", "GET", f"/api/threads/{item['thread']}", expect=200).json()
    assert number in str(thread) and item["number"] in str(thread)
