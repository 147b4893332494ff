"""The work pages: the task list of staff and the committee (pre-review, filing with a reason code,
assigning to units, reviewing replies, grading), a unit's inbox (sign, draft and submit the reply),
and published proposals for everyone."""

from __future__ import annotations

from shared.rulebook import current_rulebook

from ..http import http
from ..routes.proposals import ROUTED_AT_ONCE
from . import cases, staff
from .unit import assignment_page
from .subjects import subject_page
from .views import page, page_number, pager_of, redirect

# The proposal tasks the console has forms for; other tasks are listed and done through the API.
FORMS = ("pre_review", "filing_decision", "assign", "review_reply", "grade_quality") + staff.FORMS


def _codes(text: str) -> list[str]:
    """Unit codes typed in one field, separated by commas, spaces or 、."""
    return [code for code in text.replace("、", ",").replace(" ", ",").split(",") if code]


def milestone_lines(text: str) -> list[dict]:
    """The B reply's milestones typed one a line, ``YYYY-MM-DD what``; blank lines are skipped."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return [dict(zip(("due", "what"), (line.split(None, 1) + [""])[:2], strict=True)) for line in lines]


def task_data(name: str, form) -> dict:
    """A task form's fields as the task's data (the engine checks them with the diagram's schema).
    ``name``: the task's name, or a case task's form schema (:mod:`.cases`)."""
    if name in cases.FORMS:
        return cases.task_data(name, form)
    if name == "reassign":
        return task_data("assign", staff.reassign_fields(form))
    if name in staff.FORMS:
        return staff.task_data(name, form)
    if name == "pre_review":
        return {key: form.get(key) == "yes" for key in ("eligible", "content_ok", "format_ok")} | {
            "pre_review_notes": form.get("pre_review_notes", "")
        }
    if name == "filing_decision":
        merge_with = form.get("merge_with")  # the button under a near-duplicate shown beside it
        return {
            "decision": "merged" if merge_with else form.get("decision", ""),
            "reason_code": form.get("reason_code") or None,
            "convert_to": form.get("convert_to") or "none",
            "merge_into": merge_with or form.get("merge_into") or None,
            "filing_notes": form.get("filing_notes", ""),
            "area": form.get("area") or None,
        }
    if name == "assign":
        data = {"mode": form.get("mode", ""), "units": _codes(form.get("units", ""))}
        if data["mode"] == "lead_co":
            data.update(units=[], lead=form.get("lead") or None, co_units=_codes(form.get("co_units", "")))
        return data
    if name == "review_reply":
        data = {"action": form.get("action", ""), "comment": form.get("comment", "")}
        if form.get("override_category"):  # accepted in another category (to B: with the milestones settled)
            data["override_category"] = form.get("override_category")
            milestones = milestone_lines(form.get("override_milestones", ""))
            if milestones:  # the form's schema says what is wrong with a line, or that B needs one
                data["override_milestones"] = milestones
        return data
    if name == "grade_quality":
        # the ticked items of the quality checklist, unless a grade is chosen directly
        if form.get("grade"):
            return {"grade": form.get("grade")}
        return {"quality_checklist": form.getlist("quality_checklist")}
    return {}


def task_links(visit, tasks: list) -> dict:
    """Where each task's subject opens, by task id: a proposal's or an opinion item's page, or
    None for a subject with no page of its own (``subjects.subject_page``)."""
    proposals, assignments = visit.may("get_proposal"), visit.may("list_assignments")
    return {t["task_id"]: subject_page(t.get("business_key"), proposals, assignments) for t in tasks}


class ConsoleWorkRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`."""

    @http("GET", "/console/tasks")
    @page
    def console_tasks(self, visit):
        """A page of the caller's open tasks, oldest first (``?page=``), with next/previous links."""
        answer = visit.api("tasks", query={"page": str(page_number(visit.request.args.get("page")))})
        if not answer.ok:
            return visit.refusal(answer)
        listed = answer.body
        tasks = listed["items"]
        rules = current_rulebook("proposal")
        # The units each proposal to assign might go to, with reasons (staff decide; a caller the
        # route refuses simply gets no suggestions): one call for the whole list, not one a task.
        to_route = list(dict.fromkeys(t["business_key"] for t in tasks if t["task"] in ("assign", "reassign")))
        suggestions = {}
        for start in range(0, len(to_route) if "staff" in visit.roles else 0, ROUTED_AT_ONCE):
            numbers = ",".join(to_route[start : start + ROUTED_AT_ONCE])
            found = visit.api("routing_suggestions_of", query={"numbers": numbers})
            suggestions.update({s["number"]: s["suggestions"] for s in found.body["proposals"]} if found.ok else {})
        return visit.render(
            "tasks.html",
            tasks=tasks,
            **pager_of(listed),
            forms=FORMS,
            case_forms=cases.FORMS,
            case_choices=cases.choices(),
            reasons=rules.reasons(),
            categories=rules.reply_categories(),
            grades=rules.quality_grades(),
            standards=rules.quality_standards(),
            areas=rules.areas(),
            suggestions=suggestions,
            task_context=staff.task_context(visit, tasks),
            links=task_links(visit, tasks),
        )

    @http("POST", "/console/tasks/<string:task_id>")
    @page
    def console_complete_task(self, visit, task_id):
        data = task_data(visit.request.form.get("task", ""), visit.request.form)
        answer = visit.api("complete", method="POST", body={"data": data}, task_id=task_id)
        return redirect("/console/tasks") if answer.ok else visit.refusal(answer)

    @http("GET", "/console/assignments")
    @page
    def console_assignments(self, visit):
        """A page of the assignments the caller sees, newest first (``?page=``), with next/previous
        links; ``?number=`` keeps one proposal's (where a unit's notice about it leads)."""
        query = {"page": str(page_number(visit.request.args.get("page")))}
        number = (visit.request.args.get("number") or "").strip()
        if number:
            query["number"] = number
        answer = visit.api("list_assignments", query=query)
        if not answer.ok:
            return visit.refusal(answer)
        listed = answer.body
        return visit.render(
            "assignments.html",
            rows=listed["items"],
            **pager_of(listed),
        )

    @http("GET", "/console/assignments/<id:assignment_id>")
    @page
    def console_assignment(self, visit, assignment_id):
        return assignment_page(visit, assignment_id)

    @http("POST", "/console/assignments/<id:assignment_id>/<string:action>")
    @page
    def console_assignment_action(self, visit, assignment_id, action):
        """sign, reply-draft (category and text), reply (submit the draft); a co-unit's input (text)
        and cosign-reply (会签 the lead's draft)."""
        form = visit.request.form
        if action == "sign":
            answer = visit.api("sign_assignment", method="POST", assignment_id=assignment_id)
        elif action == "reply-draft":
            body = {"category": form.get("category", ""), "text": form.get("text", "")}
            milestones = milestone_lines(form.get("milestones", ""))
            if milestones:  # the API says what is wrong with a line (a date it cannot read, a date past)
                body["milestones"] = milestones
            answer = visit.api("draft_reply", method="POST", assignment_id=assignment_id, body=body)
        elif action == "reply":
            answer = visit.api("submit_reply", method="POST", assignment_id=assignment_id)
        elif action == "input":
            answer = visit.api(
                "send_input", method="POST", assignment_id=assignment_id, body={"text": form.get("text", "")}
            )
        elif action == "cosign-reply":
            answer = visit.api("cosign_reply", method="POST", assignment_id=assignment_id)
        else:
            return visit.render("refused.html", status=404, answer=None)
        if answer.status == 400 and action in ("reply-draft", "input"):
            # The form again, as typed, with what is wrong: a long reply is not lost to a wrong date.
            typed = {"action": action, **{key: form.get(key, "") for key in form if key != "csrf"}}
            return assignment_page(visit, assignment_id, typed, answer, 400)
        return redirect(f"/console/assignments/{assignment_id}") if answer.ok else visit.refusal(answer)

    @http("GET", "/console/published")
    @page
    def console_published(self, visit):
        """Published proposals as published (masked, with their units and replies), a page at a
        time: a year holds hundreds."""
        query = {"page": str(page_number(visit.request.args.get("page"))), "per_page": "20"}
        answer = visit.api("published_proposals", query=query)
        if not answer.ok:
            return visit.refusal(answer)
        page = answer.body
        return visit.render("published.html", page=page, pages=max(1, -(-page["total"] // page["per_page"])))
