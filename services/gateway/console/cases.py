"""The console's forms of the micro-consultation (微协商) tasks: staff dispatch a case to a member
(or close it), the member takes it, decides how to settle it, records the consultation meeting,
follows up the departments' actions and records the return visit.

A case's task is known by its form (``form_schema``, e.g. ``consultation.take``), not by its name,
so no other process's task of the same name gets these fields. Each form posts to
``/console/tasks/<id>`` like the proposal's; :func:`task_data` turns it into the task's data and the
engine checks it with the diagram's form schema (``shared.forms``): a choice left out is refused by
name, nothing is assumed."""

from __future__ import annotations

from shared.rulebook import current_rulebook

# The case tasks the console has forms for, by their form schema.
FORMS = (
    "consultation.dispatch",
    "consultation.take",
    "consultation.decide",
    "consultation.meeting",
    "consultation.follow_up",
    "consultation.return_visit",
)
YES_NO = {"yes": True, "no": False}


def _list(text: str | None) -> list[str]:
    """Codes or user names typed in one field, separated by commas, spaces or 、."""
    return [item for item in (text or "").replace("、", ",").replace(" ", ",").split(",") if item]


def _text(form, name: str) -> str | None:
    return (form.get(name) or "").strip() or None


def task_data(form_schema: str, form) -> dict:
    """The data of a case task's form (``form_schema``: one of :data:`FORMS`)."""
    if form_schema == "consultation.dispatch":
        return {
            "dispatch_action": form.get("dispatch_action", ""),
            "member": _text(form, "member"),
            "close_reason": form.get("close_reason") or None,
            "dispatch_note": form.get("dispatch_note", ""),
        }
    if form_schema == "consultation.take":
        return {"accepted": YES_NO.get(form.get("accepted", "")), "decline_reason": _text(form, "decline_reason")}
    if form_schema == "consultation.decide":
        return {
            "outcome": form.get("outcome", ""),
            "answer": _text(form, "answer"),
            "convert_title": _text(form, "convert_title"),
            "analysis": _text(form, "analysis"),
            "suggestion": _text(form, "suggestion"),
            "urgent": form.get("urgent") == "yes",
        }
    if form_schema == "consultation.meeting":
        return {
            "meeting_form": form.get("meeting_form", ""),
            "meeting_venue": _text(form, "meeting_venue"),
            "held_on": form.get("held_on", ""),
            "attendees": _list(form.get("attendees")),
            "units": _list(form.get("units")),
            "summary": form.get("summary", ""),
        }
    if form_schema == "consultation.follow_up":
        return {
            "actions_done": YES_NO.get(form.get("actions_done", "")),
            "follow_up_note": form.get("follow_up_note", ""),
        }
    if form_schema == "consultation.return_visit":
        return {
            "reached": YES_NO.get(form.get("reached", "")),
            "satisfaction": form.get("satisfaction") or None,
            "visit_comment": form.get("visit_comment", ""),
        }
    return {}


def choices() -> dict:
    """The rulebook's codes the forms offer (bpmn/rules/micro_consultation.yaml), read afresh."""
    rules = current_rulebook("micro_consultation").rules
    return {name: rules[name] for name in ("close_reasons", "meeting_forms", "satisfaction")}
