"""Key proposals chosen at the chair's meeting (主席会议确定重点提案).

Staff put a list of filed proposals of a year to the meeting, each with a reason and the leader
named to supervise it (:func:`propose_list`); the committee decides on it (:func:`decide_list`):
items struck, the rest accepted, proposals added. The decision registers each chosen proposal as a
key proposal with its leader (``key_proposals.register``: the leader's log of visits and meetings),
publishes ``proposal.key_selected`` for the proposers' points (event id per proposal, so the ledger
books them once however often it is heard) and tells the leader, the proposers and the units.

The rulebook's guidance share (``key_proposals.share_min``–``share_max`` of the year's filed
proposals) is shown with every list: the share the year's key proposals come to with the list, and
a warning outside it. The share is guidance for the meeting, never a refusal.

Which proposals were filed in the year, and who proposed them, intake knows: ``facts(year,
numbers)`` asks it (the ``YearFilingFacts`` shape of ``shared.contracts.rpc.key_proposals``).
"""

from __future__ import annotations

from typing import Callable

from shared import clock
from shared.contracts.rpc.key_proposals import KeyProposalDecisionInput, KeyProposalListInput, YearFilingFacts
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.validation import load

from . import key_proposals
from .access import OVERSEERS, principal_of
from .models import KeyProposalList
from .records import iso, live_deadlines
from .rules import SupervisionRules
from .unit_of_work import SupervisionUnitOfWork

Facts = Callable[[int, list[str]], dict]
PROPOSERS, DECIDERS = frozenset({"staff"}), frozenset({"committee"})
ACCEPTED, STRUCK, ADDED = "accepted", "struck", "added"


def _require(principal: dict, roles: frozenset, what: str) -> None:
    if not roles & set(principal["roles"]):
        raise Forbidden(f"{what} is for {', '.join(sorted(roles))}")


def _facts(facts: Facts, year: int, numbers: list[str]) -> dict:
    return load(YearFilingFacts, facts(year, sorted(set(numbers))), "intake's filing facts")


def _key_numbers(uow: SupervisionUnitOfWork, filed_numbers: list[str]) -> set[str]:
    """The year's proposals already key proposals (chosen before, or marked at assignment by an
    earlier version of the proposal diagram)."""
    return {row.number for row in uow.key_proposals.among(filed_numbers)}


def guidance(rules: SupervisionRules, filed: int, key_count: int) -> dict:
    """The guidance share for a year with ``filed`` filed proposals and ``key_count`` key ones."""
    low, high = rules.key_proposal_share()
    share = key_count / filed if filed else None
    within = share is not None and low <= share <= high
    warning = None
    if not within:
        warning = (
            f"{key_count} key proposals of {filed} filed"
            + (f" are {share:.1%}" if share is not None else "")
            + f"; the guidance is {low:.0%}–{high:.0%} of the year's filed proposals"
        )
    return {
        "share_min": low,
        "share_max": high,
        "filed": filed,
        "key_proposals": key_count,
        "share": None if share is None else round(share, 4),
        "within": within,
        "warning": warning,
    }


def list_text_zh(items: list[dict], share: dict) -> str:
    """The committee's notice of a proposed list, in Chinese: each proposal with its suggested
    supervising leader and reason, then the guidance share when the list leaves it."""
    lines = [f"建议名单共 {len(items)} 件："]
    if not share["within"]:  # first, so a long list cut at the notice's length keeps it
        counted = f"重点提案 {share['key_proposals']} 件，当年立案提案 {share['filed']} 件"
        if share["share"] is not None:
            counted += f"，占 {share['share']:.1%}"
        lines.append(f"提示：{counted}，不在指导比例 {share['share_min']:.0%}–{share['share_max']:.0%} 之内。")
    lines += [
        f"{i}. 提案 {item['number']}《{item['title']}》，建议由 {item['leader']} 领衔督办；理由：{item['reason']}"
        for i, item in enumerate(items, 1)
    ]
    return "\n".join(lines)[:4000]


def _check_items(uow: SupervisionUnitOfWork, items: list[dict], facts: dict, field: str) -> None:
    """Every item a proposal filed in the year and not a key proposal yet; all problems at once."""
    key_now = _key_numbers(uow, [item["number"] for item in items])
    problems = {}
    for i, item in enumerate(items):
        if item["number"] not in facts["proposals"]:
            problems[str(i)] = {"number": [f"{item['number']} is not a proposal filed in {facts['year']}"]}
        elif item["number"] in key_now:
            problems[str(i)] = {"number": [f"{item['number']} is a key proposal already"]}
    if problems:
        raise InvalidInput("key proposals are chosen among the year's filed proposals", {field: problems})


def _view(row: KeyProposalList, rules: SupervisionRules, facts: dict, key_now: set[str]) -> dict:
    items = row.outcome if row.outcome is not None else row.items
    chosen = {item["number"] for item in items if item.get("decision") != STRUCK}
    counted = key_now | (chosen if row.status == "proposed" else set())
    return {
        "id": row.id,
        "year": row.year,
        "status": row.status,
        "proposed_by": row.proposed_by,
        "proposed_at": iso(row.proposed_at),
        "comment": row.comment,
        "items": items,
        "decided_by": row.decided_by,
        "decided_at": iso(row.decided_at),
        "decision_comment": row.decision_comment,
        "guidance": guidance(rules, facts["filed"], len(counted & set(facts["filed_numbers"]))),
    }


def propose_list(
    uow: SupervisionUnitOfWork, rules: SupervisionRules, year: int, body: dict, principal, facts: Facts
) -> dict:
    """Staff put a list to the chair's meeting; an undecided list of the same year is replaced.
    The committee is told a list waits for its decision."""
    principal = principal_of(principal)
    _require(principal, PROPOSERS, "proposing key proposals")
    data = load(KeyProposalListInput, body, "key proposal list")
    known = _facts(facts, year, [item["number"] for item in data["items"]])
    _check_items(uow, data["items"], known, "items")
    for older in uow.key_proposals.lists_of(year):
        if older.status == "proposed":
            older.status = "replaced"
    items = [{**item, "title": known["proposals"][item["number"]]["title"], "decision": None} for item in data["items"]]
    row = KeyProposalList(
        year=year,
        status="proposed",
        items=items,
        comment=data["comment"] or None,
        proposed_by=principal["user"],
        proposed_at=clock.now(),
    )
    uow.key_proposals.add_list(row)
    uow.flush()
    view = _view(row, rules, known, _key_numbers(uow, known["filed_numbers"]))
    uow.notify(
        "key_proposals_proposed",
        f"supervision.key_list:{row.id}",
        f"key-proposals-{year}",
        ["role:committee"],
        f"{year} 年度重点提案建议名单待主席会议研究 / Key proposals of {year} "
        f"proposed for the chair's meeting ({len(items)})",
        list_text_zh(items, view["guidance"]),
    )
    return view


def decide_list(
    uow: SupervisionUnitOfWork, rules: SupervisionRules, list_id: int, body: dict, principal, facts: Facts
) -> dict:
    """The chair's meeting decides on a proposed list: struck items drop, the rest and the added
    ones become key proposals with their leaders; each is told to its leader, proposers and units."""
    principal = principal_of(principal)
    _require(principal, DECIDERS, "deciding on key proposals")
    data = load(KeyProposalDecisionInput, body, "key proposal decision")
    row = uow.key_proposals.key_list(list_id)
    if row is None:
        raise NotFound(f"no key proposal list {list_id}")
    if row.status != "proposed":
        raise Conflict(f"key proposal list {list_id} is {row.status}: only a proposed list is decided")
    listed = {item["number"] for item in row.items}
    unknown = [n for n in data["strike"] if n not in listed]
    if unknown:
        raise InvalidInput("only listed proposals are struck", {"strike": [f"not on the list: {', '.join(unknown)}"]})
    doubles = [item["number"] for item in data["add"] if item["number"] in listed]
    if doubles:
        raise InvalidInput(
            "a listed proposal is accepted by not striking it", {"add": [f"on the list already: {', '.join(doubles)}"]}
        )
    known = _facts(facts, row.year, [item["number"] for item in row.items + data["add"]])
    _check_items(uow, data["add"], known, "add")
    chosen = [item for item in row.items if item["number"] not in data["strike"]]
    _check_items(uow, chosen, known, "items")  # filed then, still filed and not key meanwhile
    now, by = clock.now(), principal["user"]
    outcome = [{**item, "decision": STRUCK if item["number"] in data["strike"] else ACCEPTED} for item in row.items]
    outcome += [
        {**item, "title": known["proposals"][item["number"]]["title"], "decision": ADDED} for item in data["add"]
    ]
    row.outcome, row.status, row.decided_by, row.decided_at = outcome, "decided", by, now
    row.decision_comment = data["comment"] or None
    for item in outcome:
        if item["decision"] != STRUCK:
            _make_key(uow, item, known["proposals"][item["number"]]["proposers"], by, now)
    uow.flush()
    return _view(row, rules, known, _key_numbers(uow, known["filed_numbers"]))


def _make_key(uow: SupervisionUnitOfWork, item: dict, proposers: list[str], by: str, now) -> None:
    number, leader = item["number"], item["leader"]
    key_proposals.register(uow, number, leader, by, now)
    uow.publish_event(
        "proposal.key_selected",
        f"proposal.key_selected:{number}",
        number,
        members=[{"member": m, "role": "lead" if i == 0 else "co"} for i, m in enumerate(proposers)],
        payload={"supervising_leader": leader},
    )
    units = sorted({unit for row in live_deadlines(uow, number) for unit in (row.units or [])})
    uow.notify(
        "key_proposal_selected",
        f"supervision.key_selected:{number}",
        number,
        [leader, *proposers, *(f"unit:{unit}" for unit in units)],
        f"提案 {number} 经主席会议确定为重点提案，由 {leader} 领衔督办 / Proposal {number} is a key "
        f"proposal, supervised by {leader}",
        f"{item.get('title') or ''}\n{item['reason']}".strip(),
    )


def year_view(uow: SupervisionUnitOfWork, rules: SupervisionRules, year: int, principal, facts: Facts) -> dict:
    """The year's key proposals, its lists (newest first) and the guidance share now."""
    principal = principal_of(principal)
    _require(principal, OVERSEERS, "the key proposal lists")
    rows = uow.key_proposals.lists_of(year)
    known = _facts(facts, year, [])
    key_now = _key_numbers(uow, known["filed_numbers"])
    keys = uow.key_proposals.among(key_now)
    return {
        "year": year,
        "key_proposals": [{"number": k.number, "supervising_leader": k.supervising_leader} for k in keys],
        "lists": [_view(row, rules, known, key_now) for row in rows],
        "guidance": guidance(rules, known["filed"], len(key_now)),
    }
