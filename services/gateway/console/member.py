"""A member's pages: my proposals (status timeline, deadlines explained), submitting with
co-signers from the members directory, co-signing, reading the reply and rating it, notifications.
Published proposals are on :mod:`.work` (everyone's)."""

from __future__ import annotations


from shared import contracts

from ..http import http
from .subjects import subject_page
from .views import page, page_number, pager_of, redirect

# The proposal process's main stages in order (bpmn/proposal.bpmn; docs/proposal-process.md): the
# timeline marks those passed. Side paths (returned, not filed, merged) are shown as the status.
STAGES = ("cosigning", "submitted", "pre_review", "filed", "assigned", "replied", "rating", "rated", "published")
FIELDS = ("kind", "title", "situation", "analysis", "suggestions", "no_publish_reason")
NOTES_PER_PAGE = 50  # the notifications page: the newest 50, then "next" for older ones


# What supervision writes before the operator's own words in a deadline's ``cancellation`` change.
_CANCELLED_PREFIX = " cancelled: "


def cancellation_of(number: str, history: list, deadlines: list) -> dict | None:
    """Who cancelled the proposal's handling, when and why, and the status it had then (``was``):
    the proposal's ``handling`` line of event ``process.cancelled`` in its history (the thread's
    timeline); else a cancelled deadline's ``cancellation`` change (the operator and the time, the
    reason as written). None when neither says it was cancelled."""
    lines = [
        h
        for h in history or ()
        if h.get("number") == number
        and h.get("action") == "handling"
        and (h.get("data") or {}).get("event") == contracts.PROCESS_CANCELLED
    ]
    if lines:
        data = lines[-1].get("data") or {}
        return {
            "at": data.get("occurred_at") or lines[-1].get("at"),
            "by": data.get("by") or lines[-1].get("actor"),
            "reason": data.get("reason") or "",
            "was": data.get("was"),
        }
    changes = [c for d in deadlines or () for c in d.get("changes") or () if c.get("kind") == "cancellation"]
    if changes:
        reason = changes[-1].get("reason") or ""
        return {
            "at": changes[-1].get("at"),
            "by": changes[-1].get("by"),
            "reason": reason.split(_CANCELLED_PREFIX, 1)[1] if _CANCELLED_PREFIX in reason else reason,
            "was": None,
        }
    return None


def reached_before(p: dict, cancelled: dict | None, deadlines: list, reply: dict | None) -> int:
    """The last stage a cancelled proposal reached (an index of :data:`STAGES`): the status it had
    when its handling was cancelled; else what its records show (a reply, deadlines once assigned,
    the filing decision), at least submitted."""
    was = (cancelled or {}).get("was")
    if was in STAGES:
        return STAGES.index(was)
    if reply and reply.get("rounds"):
        return STAGES.index("replied")
    if deadlines:
        return STAGES.index("assigned")
    if (p.get("filing") or {}).get("decision") == "filed":
        return STAGES.index("filed")
    return STAGES.index("submitted")


def rating_open(p: dict, ratings: dict | None) -> bool:
    """Whether the proposer may still rate: not once the proposal's handling was cancelled, nor
    when its last rating round closed ``cancelled`` (the API refuses a rating then)."""
    rounds = (ratings or {}).get("rounds") or []
    return p.get("status") != "cancelled" and not (rounds and rounds[-1].get("outcome") == "cancelled")


def _draft(form) -> dict:
    draft = {key: form.get(key, "") for key in FIELDS}
    draft["publish_consent"] = form.get("publish_consent") == "yes"
    draft["no_publish_reason"] = draft["no_publish_reason"] or None
    draft["cosigners"] = form.getlist("cosigners")
    return draft


def note_links(visit, notes: list) -> dict:
    """Where each notification's subject opens, by notification id (None: no link). Whoever may
    read proposals opens a proposal; a unit handler, who may not, opens the unit's own assignments
    of it (the assignments page kept to that number: no call more to draw the inbox); an opinion
    item opens its own page; anything else (a micro-consultation case) gets no link rather than one
    to a page that answers 404 (``subjects.subject_page``)."""
    proposals, assignments = visit.may("get_proposal"), visit.may("list_assignments")
    return {n["id"]: subject_page(n.get("subject"), proposals, assignments) for n in notes}


class ConsoleMemberRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`."""

    @http("GET", "/console/proposals")
    @page
    def console_my_proposals(self, visit):
        """A page of the member's own proposals, newest first (``?page=``), with the co-signing
        invitations among them."""
        query = {"mine": "true", "page": str(page_number(visit.request.args.get("page")))}
        answer = visit.api("list_proposals", query=query)
        if not answer.ok:
            return visit.refusal(answer)
        listed = answer.body
        me = visit.principal["user"]
        invited = [
            p
            for p in listed["items"]
            if any(c["user"] == me and c["status"] == "invited" for c in p.get("cosigners") or ())
        ]
        return visit.render(
            "proposals.html",
            proposals=listed["items"],
            invited=invited,
            **pager_of(listed),
        )

    @http("GET", "/console/proposals/new")
    @page
    def console_new_proposal(self, visit):
        return self._proposal_form(visit, {"kind": "between_sessions", "publish_consent": True, "cosigners": []})

    def _proposal_form(self, visit, draft, errors=None, status=200):
        members = visit.api("performance_members")
        if not members.ok:
            return visit.refusal(members)
        others = [m for m in members.body if m.get("user") != visit.principal["user"]]
        return visit.render("proposal_new.html", status=status, draft=draft, errors=errors or {}, members=others)

    @http("POST", "/console/proposals")
    @page
    def console_submit_proposal(self, visit):
        draft = _draft(visit.request.form)
        answer = visit.api("submit_proposal", method="POST", body=draft)
        if answer.status == 400:  # shown again with every field as typed, and what is wrong with each
            return self._proposal_form(visit, draft, answer.details or {"_": [answer.message]}, answer.status)
        if not answer.ok:
            return visit.refusal(answer)
        return redirect(f"/console/proposals/{answer.body['number']}")

    @http("GET", "/console/proposals/<string:number>")
    @page
    def console_proposal(self, visit, number):
        proposal = visit.api("get_proposal", number=number)
        if not proposal.ok:
            return visit.refusal(proposal)
        p, roles = proposal.body, visit.roles
        involved = roles & {"member", "staff", "committee", "leader", "unit"}
        deadlines = visit.api("deadlines", number=number) if involved else None
        reply = (
            visit.api("proposal_reply", number=number) if roles & {"member", "staff", "committee", "leader"} else None
        )
        ratings = (
            visit.api("ratings", number=number) if reply is not None and reply.ok and reply.body.get("rounds") else None
        )
        me = visit.principal["user"]
        invited = any(c["user"] == me and c["status"] == "invited" for c in p.get("cosigners") or ())
        proposer = me == p.get("initiator") or any(
            c["user"] == me and c["status"] == "confirmed" for c in p.get("cosigners") or ()
        )
        status = p.get("status", "published")
        reached = STAGES.index(status) if status in STAGES else -1
        rows = deadlines.body["deadlines"] if deadlines is not None and deadlines.ok else []
        replied = reply.body if reply is not None and reply.ok else None
        rated = ratings.body if ratings is not None and ratings.ok else None
        cancelled = None
        if status == "cancelled":  # who cancelled it, when and why: the proposal's history says
            thread = visit.api("thread", thread=p.get("thread") or number)
            history = thread.body.get("history", []) if thread.ok else []
            cancelled = cancellation_of(number, history, rows) or {}
            reached = reached_before(p, cancelled, rows, replied)
        return visit.render(
            "proposal.html",
            p=p,
            stages=STAGES,
            reached=reached,
            cancelled=cancelled,
            invited=invited,
            proposer=proposer and "member" in roles,
            rating_open=rating_open(p, rated),
            deadlines=rows,
            reply=replied,
            ratings=rated,
        )

    @http("POST", "/console/proposals/<string:number>/cosign")
    @page
    def console_cosign(self, visit, number):
        # named where the proposal is published only if they tick it (the API's default: not named)
        body = {"publish_name": visit.request.form.get("publish_name") == "yes"}
        answer = visit.api("cosign_proposal", method="POST", number=number, body=body)
        return redirect(f"/console/proposals/{number}") if answer.ok else visit.refusal(answer)

    @http("POST", "/console/proposals/<string:number>/ratings")
    @page
    def console_rate(self, visit, number):
        form = visit.request.form
        body = {
            "handling": form.get("handling", ""),
            "result": form.get("result", ""),
            "comment": form.get("comment", ""),
        }
        answer = visit.api("rate", method="POST", body=body, number=number)
        return redirect(f"/console/proposals/{number}") if answer.ok else visit.refusal(answer)

    @http("GET", "/console/notifications")
    @page
    def console_notifications(self, visit):
        """The newest notifications, a page at a time: ``?before=`` the last one shown gives older ones."""
        query = {"limit": str(NOTES_PER_PAGE)}
        if visit.request.args.get("before", "").isdigit():
            query["before"] = visit.request.args["before"]
        answer = visit.api("list_notifications", query=query)
        if not answer.ok:
            return visit.refusal(answer)
        notes = answer.body
        older = notes[-1]["id"] if len(notes) == NOTES_PER_PAGE else None
        return visit.render("notifications.html", notes=notes, older=older, links=note_links(visit, notes))

    @http("POST", "/console/notifications/<id:notification_id>/read")
    @page
    def console_read_notification(self, visit, notification_id):
        answer = visit.api("read_notification", method="POST", notification_id=notification_id)
        return redirect("/console/notifications") if answer.ok else visit.refusal(answer)
