"""The BPMN messages the engine correlates: each name, who may send it, what it correlates on.

A diagram that waits for a message no one declares here would wait for ever, and a message with a
name no diagram knows would be buffered and dropped: a deploy refuses a diagram whose messages are
not declared, naming the closest declared one (a renamed ``reply_submitted`` is caught at deploy).
``senders`` are services (their bus identity) or ``operator`` (``POST /api/messages``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BpmnMessage:
    name: str
    senders: tuple[str, ...]
    correlation: str  # what the correlation key is
    summary: str


def _declare(*messages: BpmnMessage) -> dict[str, BpmnMessage]:
    return {m.name: m for m in messages}


MESSAGES = _declare(
    BpmnMessage("cosign_settled", ("intake",), "proposal number", "co-signing closed: every co-signer answered"),
    BpmnMessage("resubmitted", ("intake",), "proposal number", "a returned proposal was resubmitted"),
    BpmnMessage("merged_answered", ("intake",), "proposal number", "the proposal it was merged into was answered"),
    BpmnMessage(
        "merge_main_cancelled",
        ("intake",),
        "proposal number",
        "the proposal it was merged into was cancelled: it is unmerged, the committee decides on it again",
    ),
    BpmnMessage(
        "adoptions_settled", ("intake",), "opinion item number", "every channel said whether it adopted the item"
    ),
    BpmnMessage("forwards_answered", ("intake",), "opinion item number", "every department answered a forwarded item"),
    BpmnMessage("converted_to_proposal", ("intake",), "opinion item number", "the item became a proposal"),
    BpmnMessage("objection_raised", ("assignment",), "proposal number", "a unit objected to its assignment"),
    BpmnMessage("reply_submitted", ("assignment",), "proposal number", "the answering units submitted their reply"),
    BpmnMessage("extension_requested", ("assignment",), "proposal number", "a unit asked for more time"),
    BpmnMessage("followup_reply", ("assignment",), "proposal number", "a unit's follow-up on a category B reply"),
    BpmnMessage("commitments_made", ("assignment",), "case number", "departments committed to actions on a case"),
    BpmnMessage(
        "converted_outcome",
        ("intake",),
        "case number",
        "the opinion item or proposal a case became has its outcome: the return visit may follow",
    ),
    BpmnMessage(
        "ratings_complete",
        ("evaluation",),
        "proposal number",
        "every proposer rated the reply, or the rating window ended (the silent ones named as not given)",
    ),
    BpmnMessage(
        "appeal_lodged",
        ("evaluation",),
        "proposal number",
        "a proposer still unsatisfied after a re-handled reply appealed within the window",
    ),
    BpmnMessage("unit_reply", ("operator",), "submission business key", "the smoke diagram's reply, sent over HTTP"),
)

# The services that start a process by command (exchange ztc.messages, key engine.start): the owner
# of the business object the process is about. The engine refuses a start command from any other.
START_SENDERS = ("intake", "assignment")

COSIGN_SETTLED = "cosign_settled"
RESUBMITTED = "resubmitted"
MERGED_ANSWERED = "merged_answered"
MERGE_MAIN_CANCELLED = "merge_main_cancelled"
ADOPTIONS_SETTLED = "adoptions_settled"
FORWARDS_ANSWERED = "forwards_answered"
CONVERTED_TO_PROPOSAL = "converted_to_proposal"
OBJECTION_RAISED = "objection_raised"
REPLY_SUBMITTED = "reply_submitted"
EXTENSION_REQUESTED = "extension_requested"
FOLLOWUP_REPLY = "followup_reply"
COMMITMENTS_MADE = "commitments_made"
CONVERTED_OUTCOME = "converted_outcome"
RATINGS_COMPLETE = "ratings_complete"
APPEAL_LODGED = "appeal_lodged"


def get(name: str) -> BpmnMessage | None:
    return MESSAGES.get(name)


def may_send(name: str, sender: str) -> bool:
    message = MESSAGES.get(name)
    return message is not None and sender in message.senders
