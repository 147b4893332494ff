"""A member's pages: my proposals (status timeline, deadlines explained), submitting with
co-signers from the members directory, co-signing, reading the reply and rating it, notifications.
Published proposals are on :mod:`.work` (everyone's)."""

from __future__ import annotations

from ..http import http
from .views import page, page_number, pager_of, redirect

# The proposal process's main stages in order (bpmn/proposal.bpmn; docs/proposal-process.md): the
# timeline marks those passed. Side paths (returned, not filed, merged) are shown as the status.
STAGES = ("cosigning", "submitted", "pre_review", "filed", "assigned", "replied", "rating", "rated", "published")
FIELDS = ("kind", "title", "situation", "analysis", "suggestions", "no_publish_reason")
NOTES_PER_PAGE = 50  # the notifications page: the newest 50, then "next" for older ones


def _draft(form) -> dict:
    draft = {key: form.get(key, "") for key in FIELDS}
    draft["publish_consent"] = form.get("publish_consent") == "yes"
    draft["no_publish_reason"] = draft["no_publish_reason"] or None
    draft["cosigners"] = form.getlist("cosigners")
    return draft


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
        return visit.render(
            "proposal.html",
            p=p,
            stages=STAGES,
            reached=reached,
            invited=invited,
            proposer=proposer and "member" in roles,
            deadlines=deadlines.body["deadlines"] if deadlines is not None and deadlines.ok else [],
            reply=reply.body if reply is not None and reply.ok else None,
            ratings=ratings.body if ratings is not None and ratings.ok else None,
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
        return visit.render("notifications.html", notes=notes, older=older)

    @http("POST", "/console/notifications/<id:notification_id>/read")
    @page
    def console_read_notification(self, visit, notification_id):
        answer = visit.api("read_notification", method="POST", notification_id=notification_id)
        return redirect("/console/notifications") if answer.ok else visit.refusal(answer)
