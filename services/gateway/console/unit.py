"""A unit handler's assignment page beyond signing and replying: object to the assignment (with the
reason), ask for more time (for some months or until a date), report a category B reply's
milestones done and send its follow-up reply, record a contact with the proposer (办理沟通), and
read what the committee decided
(:mod:`.decisions`). The co-unit's input and co-signing are on the same page (:mod:`.work`).

Each action calls the API's own route; a form the API finds wrong (400) comes back with what was
typed and what is wrong; any other refusal is the API's, shown as it is."""

from __future__ import annotations

from shared.rulebook import current_rulebook

from ..http import http
from . import decisions
from .views import page, redirect

# The console action -> the API route it calls (the route's roles decide who may).
ROUTES = {
    "object": "object_to_assignment",
    "extension": "request_extension",
    "milestone": "report_milestone",
    "followup": "submit_followup",
    "contact": "record_contact",
}


def _whole(text: str):
    """A number typed in a form as an integer; anything else as typed, for the API to refuse."""
    text = (text or "").strip()
    return int(text) if text.isdigit() else text


def body_of(action: str, form) -> dict:
    """The API body of a unit's form: the extension in months or until a date, as the person chose."""
    if action == "object":
        return {"reason": form.get("reason", "")}
    if action == "extension":
        body = {"reason": form.get("reason", "")}
        if form.get("by") == "months":
            body["months"] = _whole(form.get("months", ""))
        elif form.get("by") == "until":
            body["until"] = form.get("until", "").strip()
        return body  # neither chosen: the API asks for exactly one
    if action == "contact":
        fields = ("kind", "held_on", "participants")
        return {**{key: form.get(key, "").strip() for key in fields}, "note": form.get("note", "").strip() or None}
    if action == "milestone":
        return {"milestone": _whole(form.get("milestone", "")), "note": form.get("note", "")}
    return {"text": form.get("text", "")}


def offers(a: dict) -> dict:
    """Which of the unit's forms the assignment's state calls for (the API decides again): an
    objection before it is replied to; an extension while the answering unit works on its reply;
    after an accepted category B reply, the milestones not yet done and the follow-up reply (and
    the follow-up sent, once it is); a contact with the proposer. A cancelled assignment takes
    nothing more: no form at all (what was sent before is still shown); nor does one whose reply
    staff accepted before the handling was cancelled (``replied`` with ``cancelled_at``)."""
    log = list(a.get("events") or ())
    live = a.get("status") != "cancelled" and not a.get("cancelled_at")
    events = [e.get("action") for e in log]
    sent = [e for e in log if e.get("action") == "followup_submitted"]
    replies = a.get("replies") or []
    current = replies[-1] if replies else None
    answering = a.get("role") != "co"
    open_request = any(e.get("status") == "requested" for e in a.get("extension_requests") or ())
    after_b = (
        answering
        and a.get("status") == "replied"
        and current is not None
        and current.get("category") == "B"
        and "reply_accepted" in events
    )
    return {
        "object": a.get("status") in ("assigned", "signed") and not a.get("objection"),
        "extension": answering and a.get("status") == "signed" and not open_request,
        "milestones": [m for m in (current or {}).get("milestones") or () if not m.get("done_at")]
        if after_b and live
        else [],
        "followup": after_b and live and not sent,
        "followup_sent": (sent[-1].get("data") or {}).get("text", "") if sent else "",
        "contact": live,
        "work": live,  # sign, the reply draft and its submission, a co-unit's input and co-signing
    }


def cancellation(a: dict) -> dict | None:
    """Why and when a cancelled assignment was cancelled, from its log's last ``cancelled``:
    ``reason`` (``process_cancelled``: an operator cancelled the proposal's handling; ``reassigned``:
    staff gave the proposal to other units), who, when, the note written and whether the reply
    staff had accepted stays on record (``reply_kept``: the assignment stays ``replied``, with
    ``cancelled_at``); None while it is not cancelled. A log without the entry still gives the time."""
    if a.get("status") != "cancelled" and not a.get("cancelled_at"):
        return None
    entries = [e for e in a.get("events") or () if e.get("action") == "cancelled"]
    entry = entries[-1] if entries else {}
    data = entry.get("data") or {}
    return {
        "reason": data.get("reason") or "unknown",
        "at": a.get("cancelled_at") or entry.get("at"),
        "by": data.get("by") or entry.get("actor"),
        "note": data.get("note") or "",
        "reply_kept": bool(data.get("reply_kept")) or a.get("status") != "cancelled",
    }


def assignment_page(visit, assignment_id: int, typed: dict | None = None, refused=None, status: int = 200):
    """The assignment page; after a refused form, with what was typed (``typed``: the action and
    its fields) and the API's answer (``refused``)."""
    answer = visit.api("get_assignment", assignment_id=assignment_id)
    if not answer.ok:
        return visit.refusal(answer)
    a = answer.body
    deadlines = visit.api("deadlines", number=a["number"])
    return visit.render(
        "assignment.html",
        status=status,
        a=a,
        deadlines=deadlines.body["deadlines"] if deadlines.ok else [],
        categories=current_rulebook("proposal").reply_categories(),
        contact_kinds=current_rulebook("proposal").contact_kinds(),
        decisions=decisions.of(a),
        offers=offers(a),
        cancelled=cancellation(a),
        typed=typed or {},
        refused=refused,
    )


class ConsoleUnitRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`."""

    def _unit_action(self, visit, assignment_id: int, action: str):
        form = visit.request.form
        answer = visit.api(ROUTES[action], method="POST", assignment_id=assignment_id, body=body_of(action, form))
        if answer.status == 400:  # the form again, as typed, with what is wrong
            typed = {"action": action, **{key: form.get(key, "") for key in form if key != "csrf"}}
            return assignment_page(visit, assignment_id, typed, answer, 400)
        if not answer.ok:
            return visit.refusal(answer)
        return redirect(f"/console/assignments/{assignment_id}")

    @http("POST", "/console/assignments/<id:assignment_id>/object")
    @page
    def console_object(self, visit, assignment_id):
        return self._unit_action(visit, assignment_id, "object")

    @http("POST", "/console/assignments/<id:assignment_id>/extension")
    @page
    def console_request_extension(self, visit, assignment_id):
        return self._unit_action(visit, assignment_id, "extension")

    @http("POST", "/console/assignments/<id:assignment_id>/milestone")
    @page
    def console_report_milestone(self, visit, assignment_id):
        return self._unit_action(visit, assignment_id, "milestone")

    @http("POST", "/console/assignments/<id:assignment_id>/followup")
    @page
    def console_submit_followup(self, visit, assignment_id):
        return self._unit_action(visit, assignment_id, "followup")

    @http("POST", "/console/assignments/<id:assignment_id>/contacts")
    @page
    def console_record_contact(self, visit, assignment_id):
        return self._unit_action(visit, assignment_id, "contact")
