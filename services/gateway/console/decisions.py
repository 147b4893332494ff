"""What the committee decided about one assignment, as its unit reads it on the assignment page.

The assignment service records each decision in the assignment's own event log (the answer of
``GET /api/assignments/<id>``, ``events``): staff's decision on an extension
(``extension_decided``) and on an objection (``objection_decided``), the reply accepted
(``reply_accepted``) or sent back (``sent_back``), a category B reply's follow-up expected
(``followup_expected``), the committee's decision on a proposer's appeal (``appeal_decided``) and a
new round of handling (``rehandling``), and the assignment cancelled (``cancelled``: staff
reassigned the proposal, or an operator cancelled its handling, which also closes an objection or
an extension request still waiting, decided ``cancelled``). This module only picks them out, newest first; it decides
nothing.
"""

from __future__ import annotations


def _kind(action: str, data: dict) -> str | None:
    """The decision an event log entry records (a catalogue key's last part), or None."""
    if action == "extension_decided":
        return f"extension_{data.get('outcome')}"  # approved | refused | cancelled
    if action == "objection_decided":
        return f"objection_{data.get('outcome')}"  # kept | reassigned | cancelled
    if action == "cancelled":  # process_cancelled (reply_kept: an accepted reply stays) | reassigned
        return "cancelled_reply_kept" if data.get("reply_kept") else f"cancelled_{data.get('reason') or 'reassigned'}"
    if action == "appeal_decided":
        return f"appeal_{data.get('decision')}"  # upheld | rehandle
    if action in ("reply_accepted", "sent_back", "followup_expected", "rehandling"):
        return action
    return None


def _comment(kind: str, data: dict) -> str:
    """What a decision says in words: its comment or reason; a cancellation's reason is a code
    (its kind says it), its note is what the person wrote."""
    if kind.startswith("cancelled_"):
        return data.get("note") or ""
    return data.get("comment") or data.get("reason") or ""


def of(assignment: dict) -> list[dict]:
    """Each decision about ``assignment`` (an answer of ``get_assignment``), newest first: its kind,
    when, by whom (``system`` when the decision reached the unit as an event), the round, and what
    it says (the date granted, the comment or reason, the units it went to, the reply's category)."""
    found = []
    for event in assignment.get("events") or ():
        data = event.get("data") or {}
        kind = _kind(event.get("action", ""), data)
        if kind is None:
            continue
        found.append(
            {
                "kind": kind,
                "at": data.get("decided_at") or event.get("at"),
                "by": data.get("decided_by") or data.get("by") or event.get("actor"),
                "round": data.get("round"),
                "until": data.get("until"),
                "comment": _comment(kind, data),
                "units": list(data.get("assigned_to") or ()),
                "category": data.get("category"),
            }
        )
    return found[::-1]
