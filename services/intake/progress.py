"""A filed proposal's status follows its handling, from the ``handling.*`` domain events the
assignment and evaluation services publish; the proposers are told what concerns them.

| event (publisher) | status | proposers told (``notify.<kind>``) |
|---|---|---|
| ``handling.assigned`` (assignment: ``assignment.assign``) | ``assigned`` | ``proposal_assigned`` |
| ``handling.reply_submitted`` (assignment: every answering unit submitted) | ``replied`` | — |
| ``handling.sent_back`` (assignment: staff sent the reply back) | ``assigned`` | — |
| ``handling.rating_opened`` (evaluation: staff accepted the reply, a rating round opened) | ``rating`` | ``reply_accepted``, ``rating_opened`` |
| ``handling.rated`` (evaluation: every proposer rated) | ``rated`` | — |
| ``handling.rehandling`` (assignment: a new round after 不满意) | ``rehandling`` | ``rehandling`` |
| ``handling.followup_received`` (assignment: the unit's second reply on a B answer) | unchanged | ``followup_received`` |
| ``handling.milestone_done`` (assignment: the unit reports a milestone of its B answer done) | unchanged | ``milestone_done`` |
| ``handling.rated`` with outcome ``appealable`` (a re-handled reply rated 不满意) | ``rated`` | ``appeal_open`` |
| ``handling.appealed`` (evaluation: a proposer appealed) | unchanged | ``appeal_lodged`` |
| ``handling.appeal_decided`` (evaluation: the committee upheld the handling or ordered re-handling) | unchanged | ``appeal_decided`` |

Each is kept in the proposal's history (``handling`` events with their payload: an appeal's and its
decision's reasons among them), which the case thread shows.

Only a proposal in handling moves (``filed`` or one of the statuses above); a published, merged,
not filed or cancelled one keeps its status. An event older than the last one applied (events can
arrive out of order, or twice) changes no status; one heard before changes nothing at all. A
cancelled proposal's handling events are kept in its history but tell its proposers nothing.

``process.cancelled`` (the engine: an operator cancelled the proposal's or an opinion item's
process) comes on the same queue and is applied by :mod:`.cancellation`.
"""

from __future__ import annotations

from shared import clock
from shared import contracts, names
from shared.contracts.rpc import proposals as proposal_contracts
from shared.errors import InvalidInput
from shared.validation import load

from . import cancellation
from .models import Proposal
from .records import by_number, notice, notify, proposers, record_event, tell
from .units import seeded
from .unit_of_work import IntakeUnitOfWork

IN_HANDLING = proposal_contracts.IN_HANDLING
HEARD = contracts.subscriptions.INTAKE_HEARS
STATUS = {
    "handling.assigned": "assigned",
    "handling.reply_submitted": "replied",
    "handling.sent_back": "assigned",
    "handling.rating_opened": "rating",
    "handling.rated": "rated",
    "handling.rehandling": "rehandling",
}
CATEGORY_ZH = {"A": "已解决或采纳", "B": "正在解决或列入计划", "C": "留作参考", "D": "其他"}


def _notices(name: str, payload: dict, title: str) -> list[tuple[str, str]]:
    if name == "handling.assigned":
        # Named by the directory's names the event carries, else by the seed's, else by code.
        units = names.units_zh(payload.get("units") or [], {**seeded(), **(payload.get("unit_names") or {})})
        return [("proposal_assigned", f"您的提案 {title}已交办，承办单位：{units}。")]
    if name == "handling.rating_opened":
        return [
            ("reply_accepted", f"您的提案 {title}的办理答复已经审核通过，可在提案的“答复”中查看。"),
            ("rating_opened", f"请对提案 {title}的办理答复作出评价（办理工作、办理结果两项）。"),
        ]
    if name == "handling.rehandling":
        return [("rehandling", f"根据评价意见，提案 {title}已交承办单位重新办理（第 {payload.get('round')} 轮）。")]
    if name == "handling.followup_received":
        return [("followup_received", f"提案 {title}的承办单位报送了后续办理情况：{payload.get('text') or ''}")]
    if name == "handling.milestone_done":
        return [
            (
                "milestone_done",
                f"提案 {title}的承办单位报告：第 {payload.get('milestone')} 项办理节点"
                f"“{payload.get('what') or ''}”（原定 {payload.get('due') or ''}）已完成。"
                f"{payload.get('note') or ''}",
            )
        ]
    if name == "handling.rated" and payload.get("outcome") == "appealable":
        return [
            (
                "appeal_open",
                f"提案 {title}重新办理后的答复仍被评为不满意。如仍不满意，可在 "
                f"{payload.get('appeal_due') or ''} 前提出申诉，由提案委员会决定。",
            )
        ]
    if name == "handling.appealed":
        return [("appeal_lodged", f"提案 {title}第 {payload.get('round')} 轮答复的申诉已受理，待提案委员会决定。")]
    if name == "handling.appeal_decided":
        decided = "维持办理结果" if payload.get("decision") == "upheld" else "交承办单位再次重新办理"
        return [("appeal_decided", f"提案 {title}的申诉已有决定：{decided}。理由：{payload.get('reason') or ''}")]
    return []


def hear(uow: IntakeUnitOfWork, body) -> dict:
    """Apply one ``handling.*`` event to its proposal (see the module docstring)."""
    event = load(contracts.EventSchema, body, "the event")
    name = event["name"]
    if name not in HEARD:
        raise InvalidInput("intake hears no such event", {"name": [f"one of {', '.join(HEARD)}"]})
    if name == contracts.PROCESS_CANCELLED:
        return cancellation.hear(uow, event)
    proposal = by_number(uow, event["subject"], lock=True)
    if proposal is None:  # a smoke diagram's submission, or a proposal of another installation
        return {"applied": False, "reason": "no such proposal"}
    heard = uow.proposals.lines_of(proposal, "handling")
    if any(data.get("event_id") == event["event_id"] for data in heard):
        return {"applied": False, "reason": "heard before"}
    at = clock.as_utc(event["occurred_at"]).isoformat()
    newest = max((data.get("occurred_at") or "" for data in heard if data.get("status")), default="")
    status = STATUS.get(name)
    applied = status is not None and proposal.status in IN_HANDLING and at >= newest
    if applied:
        proposal.status = status
    record_event(
        uow,
        proposal,
        "system",
        "handling",
        {
            "event_id": event["event_id"],
            "event": name,
            "occurred_at": at,
            "status": status if applied else None,
            **event["payload"],
        },
    )
    if proposal.status == cancellation.CANCELLED:  # its process is gone: nothing to tell anyone
        uow.flush()
        return {"applied": False, "status": proposal.status}
    title = f"{proposal.number}《{proposal.title}》"
    # The notices of one event go out as one message (reply accepted and rating opened: two).
    tell(
        uow,
        [
            notice(uow, proposal, proposers(proposal), text, kind)
            for kind, text in _notices(name, event["payload"], title)
        ],
    )
    if name == "handling.rating_opened":  # proposals merged into this one share its answer and rate it
        for other in uow.proposals.merged_into(proposal.number):
            notify(
                uow,
                other,
                proposers(other),
                f"您的提案 {other.number}《{other.title}》与提案 {proposal.number} 并案办理，其办理答复已经审核通过，"
                "可在您的提案的“答复”中查看，并请作出评价（办理工作、办理结果两项）。",
                kind="rating_opened",
            )
    uow.flush()
    return {"applied": applied, "status": proposal.status}


def rated_rounds(uow: IntakeUnitOfWork, proposal: Proposal) -> list[int]:
    """The rounds whose reply staff accepted (a rating round opened on it), oldest first."""
    lines = uow.proposals.lines_of(proposal, "handling")
    return sorted(
        {int(line.get("round") or 0) for line in lines if line.get("event") == "handling.rating_opened"} - {0}
    )


def reply_access(uow: IntakeUnitOfWork, number: str, principal: dict) -> dict:
    """Whose reply the caller may read for proposal ``number``, and which rounds of it.

    Staff, the committee and leaders: every round. A proposer (initiator or a co-signer who
    stayed): the rounds staff accepted; the proposer of a proposal merged into another reads the
    answer of that one (``answered_by``) once it was accepted. Anyone else: not found."""
    from .access import acting_user, not_found, proposes, reads_all

    user, roles = acting_user(principal)
    proposal = by_number(uow, str(number))
    if proposal is None:
        raise not_found(str(number))
    overseer = reads_all(roles)
    if not overseer and not proposes(proposal, user, roles):
        raise not_found(str(number))
    answering = proposal
    if proposal.status == "merged" and proposal.merged_into:
        answering = by_number(uow, proposal.merged_into) or proposal
    return {
        "number": proposal.number,
        "answered_by": answering.number,
        "all_rounds": overseer,
        "rounds": rated_rounds(uow, answering),
        "status": proposal.status,
    }
