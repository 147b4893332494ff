"""编 edit, 报 report, 踪 track, 馈 feed back: the opinion diagram's jobs and the commands staff,
leaders and departments send while an item is tracked.

Jobs take validated parameters and return a JSON-ready result for the diagram; an outcome the
diagram catches is a :class:`BusinessError` (``not_in_editing``, ``unknown_channel``,
``unknown_unit``). Commands (RPC) authorise the caller and refuse with ``shared.errors``.
Every step tells the submitter (``notify.opinion.<step>``) in the same transaction.

An item whose process an operator cancelled (status ``cancelled``, ``cancellation``) takes none of
them: each refuses it (``Conflict``, naming when, by whom and why it was cancelled) before changing,
telling or publishing anything.
"""

from __future__ import annotations

from shared import clock, names
from shared.calendar import local_date
from shared.errors import BusinessError, Conflict, Forbidden, InvalidInput
from shared.validation import load
from shared.contracts import messages
from shared.principal import acting_user as recorded_user

from . import case_outcome
from .access import acting_user
from .units import known_units, seeded
from .models import OpinionCheck, OpinionForward, OpinionInstruction, OpinionIssue, OpinionReport
from .opinion_records import by_id, by_number, event, next_issue_number, not_found, record, refuse_if_cancelled, tell
from .opinion_rules import CHECKS, codes, label, provenance
from .opinion_schemas import (
    AdoptionRequest,
    AnswerRequest,
    EditingParams,
    ForwardParams,
    InstructionRequest,
    ItemRef,
    ReportParams,
    ReturnParams,
)
from .opinions import dump
from .unit_of_work import IntakeUnitOfWork
from .rules import IntakeRules

EDITABLE = ("submitted",)
CHANNEL_NAMES = {}


def _actor(principal):
    return recorded_user(principal)


def _channel_zh(rulebook, code):
    return label(rulebook, "channels", code, "unknown_channel").zh


# -- 编 edit -----------------------------------------------------------------------------------


def record_editing(uow: IntakeUnitOfWork, rules: IntakeRules, params: dict, principal: dict | None) -> dict:
    """The four checks (四关), each recorded with its result and note, and the editors' decision:
    reported (waits for sign-off) or not adopted (the submitter is told why)."""
    data = load(EditingParams, params, "intake.record_editing parameters")
    item = by_id(uow, data["item_id"], lock=True)
    refuse_if_cancelled(uow, item, "editing")
    if item.status not in EDITABLE:
        raise BusinessError("not_in_editing", f"opinion item {item.number} is {item.status}, not in editing")
    rulebook = rules.opinion_rulebook()
    now = clock.now()
    round_ = uow.opinions.last_check_round(item) + 1
    for check in CHECKS:
        uow.opinions.add_check(
            OpinionCheck(
                item_id=item.id,
                round=round_,
                check=check,
                passed=data[f"{check}_ok"],
                note=data[f"{check}_note"] or "",
                checked_by=data["edited_by"],
                checked_at=now,
            )
        )
    if data["edited_title"] and data["edited_title"] != item.title:
        record(uow, item, data["edited_by"], "title_edited", {"from": item.title, "to": data["edited_title"]})
        item.title = data["edited_title"]
    checks = {c: {"passed": data[f"{c}_ok"], "note": data[f"{c}_note"]} for c in CHECKS}
    if data["decision"] == "report":
        item.status = "reviewed"
        tell(
            uow,
            item,
            "edited",
            f"round-{round_}",
            f"社情民意信息 {item.number} 已通过编辑审核",
            "已通过政治、事实、内容、文字四关审核，待领导签发。",
        )
    else:
        item.status, item.not_adopted_reason = "not_adopted", data["not_adopted_reason"]
        case_outcome.opinion_settled(uow, item)
        tell(
            uow,
            item,
            "not_adopted",
            f"round-{round_}",
            f"社情民意信息 {item.number} 未予采用",
            f"理由：{data['not_adopted_reason']}",
        )
    record(
        uow,
        item,
        data["edited_by"],
        "edited",
        {
            "round": round_,
            "checks": checks,
            "decision": data["decision"],
            "not_adopted_reason": data["not_adopted_reason"],
            **provenance(rulebook),
        },
    )
    uow.flush()
    return {"status": item.status, "round": round_}


def return_to_editing(uow: IntakeUnitOfWork, params: dict, principal: dict | None) -> dict:
    """The leader did not sign it off: the item goes back to the editors with the leader's comment."""
    data = load(ReturnParams, params, "intake.return_to_editing parameters")
    item = by_id(uow, data["item_id"], lock=True)
    refuse_if_cancelled(uow, item, "sign-off")
    if item.status == "reviewed":
        item.status = "submitted"
        record(uow, item, data["returned_by"], "sign_off_refused", {"comment": data["comment"]})
    return {"status": item.status}


# -- 报 report ---------------------------------------------------------------------------------


def report(uow: IntakeUnitOfWork, rules: IntakeRules, params: dict, principal: dict | None) -> dict:
    """Signed off (签发) and reported (报送) to each chosen channel in its next issue (期).
    Recipients answer whether they adopt it until the rulebook's ``adoption_wait`` has passed."""
    data = load(ReportParams, params, "intake.report parameters")
    item = by_id(uow, data["item_id"], lock=True)
    refuse_if_cancelled(uow, item, "sign-off nor report")
    rulebook = rules.opinion_rulebook()
    channels = [label(rulebook, "channels", code, "unknown_channel") for code in dict.fromkeys(data["channels"])]
    if item.status != "reviewed":
        raise BusinessError(
            "not_reviewed", f"opinion item {item.number} is {item.status}; only a reviewed item is signed off"
        )
    now = clock.now()
    year = local_date(now).year
    due = rules.opinion_deadline("adoption_wait", now)
    record(uow, item, data["signed_off_by"], "signed_off", {"comment": data["comment"], **provenance(rulebook)})
    issues = []
    for channel in channels:
        sequence, number = next_issue_number(uow, rulebook, channel, year)
        issue = OpinionIssue(channel=channel.code, year=year, sequence=sequence, number=number, created_at=now)
        uow.opinions.add_issue(issue)
        uow.flush()
        uow.opinions.add_report(
            OpinionReport(
                item_id=item.id,
                issue_id=issue.id,
                issue=issue,
                channel=channel.code,
                signed_off_by=data["signed_off_by"],
                reported_at=now,
            )
        )
        issues.append({"channel": channel.code, "issue": number})
    item.status = "sent"
    record(uow, item, data["signed_off_by"], "sent", {"reports": issues, "adoption_wait": due.as_dict()})
    tell(
        uow,
        item,
        "reported",
        "sent",
        f"社情民意信息 {item.number} 已签发报送",
        "报送：" + "、".join(f"{_channel_zh(rulebook, i['channel'])}（{i['issue']}）" for i in issues),
    )
    uow.flush()
    return {"reports": issues, "adoption_due": clock.as_utc(due.ends_at).isoformat()}


# -- 踪 track: adoption, instructions ------------------------------------------------------------


def _require_staff(principal, *also):
    user, roles = acting_user(principal)
    if not roles & {"staff", *also}:
        raise Forbidden("this is recorded by staff" + (f" or {', '.join(also)}" if also else ""))
    return user


def _settle_if_complete(uow: IntakeUnitOfWork, item) -> None:
    reports = uow.opinions.reports_of(item)
    if reports and all(r.adoption for r in reports):
        uow.send_message(
            name=messages.ADOPTIONS_SETTLED,
            correlation_key=item.number,
            message_id=f"adoptions-settled-{item.number}",
            payload={"adopted": [r.channel for r in reports if r.adoption == "adopted"]},
        )


def record_adoption(uow: IntakeUnitOfWork, rules: IntakeRules, number: str, request: dict, principal: dict) -> dict:
    """A recipient adopted (采用) the item or not; staff record it per recipient. The last answer
    tells the process (``adoptions_settled``)."""
    user = _require_staff(principal)
    data = load(AdoptionRequest, request, "the adoption")
    item = by_number(uow, number, lock=True)
    if item is None:
        raise not_found(number)
    refuse_if_cancelled(uow, item, "adoptions")
    rulebook = rules.opinion_rulebook()
    if data["channel"] not in codes(rulebook, "channels"):
        raise InvalidInput("the adoption", {"channel": [f"one of: {', '.join(codes(rulebook, 'channels'))}"]})
    row = next((r for r in uow.opinions.reports_of(item) if r.channel == data["channel"]), None)
    if row is None:
        raise Conflict(f"opinion item {number} was not reported to {data['channel']}")
    outcome = "adopted" if data["adopted"] else "not_adopted"
    if row.adoption is not None:
        if row.adoption == outcome:
            return dump(uow, item)
        raise Conflict(f"{data['channel']} is already recorded as {row.adoption} for opinion item {number}")
    row.adoption, row.adoption_note = outcome, data["note"]
    row.publishable = data["adopted"] and data["publishable"]
    row.adoption_recorded_by, row.adoption_at = user, clock.now()
    record(
        uow,
        item,
        user,
        "adoption_recorded",
        {
            "channel": row.channel,
            "issue": row.issue.number,
            "adoption": outcome,
            "note": data["note"],
            "publishable": row.publishable,
        },
    )
    zh = _channel_zh(rulebook, row.channel)
    if data["adopted"]:
        if item.status == "sent":
            item.status = "adopted"
        event(uow, item, "opinion.adopted", row.channel, {"channel": row.channel, "issue": row.issue.number})
        tell(
            uow,
            item,
            "adopted",
            row.channel,
            f"社情民意信息 {item.number} 被{zh}采用",
            f"刊发于 {row.issue.number}。",
        )
    else:
        tell(uow, item, "not_adopted_by", row.channel, f"社情民意信息 {item.number} 未被{zh}采用", data["note"] or "")
    uow.flush()
    _settle_if_complete(uow, item)
    return dump(uow, item)


def close_reporting(uow: IntakeUnitOfWork, params: dict, principal: dict | None) -> dict:
    """Adoption settled, or its wait passed: recipients that did not answer count as not adopted.
    The item is adopted if any recipient adopted it, otherwise not adopted."""
    item = by_id(uow, load(ItemRef, params, "intake.close_reporting parameters")["item_id"], lock=True)
    refuse_if_cancelled(uow, item, "closing of its reporting")
    now = clock.now()
    silent = []
    reports = uow.opinions.reports_of(item)
    for row in reports:
        if row.adoption is None:
            row.adoption, row.adoption_note, row.adoption_recorded_by, row.adoption_at = (
                "not_adopted",
                "未在期限内反馈采用情况",
                "system",
                now,
            )
            silent.append(row.channel)
    adopted = [r.channel for r in reports if r.adoption == "adopted"]
    if item.status == "sent":
        if adopted:
            item.status = "adopted"
        else:
            item.status, item.not_adopted_reason = "not_adopted", "报送单位均未采用"
            case_outcome.opinion_settled(uow, item)
            tell(
                uow,
                item,
                "not_adopted",
                "reporting",
                f"社情民意信息 {item.number} 未被采用",
                "报送单位均未采用。感谢您反映情况。",
            )
    record(uow, item, _actor(principal), "reporting_closed", {"adopted": adopted, "no_answer": silent})
    uow.flush()
    return {"adopted": adopted, "no_answer": silent, "status": item.status}


def record_instruction(uow: IntakeUnitOfWork, rules: IntakeRules, number: str, request: dict, principal: dict) -> dict:
    """A leader's instruction (领导批示) on an adopted report, with its level (rulebook)."""
    user = _require_staff(principal, "leader")
    data = load(InstructionRequest, request, "the instruction")
    item = by_number(uow, number, lock=True)
    if item is None:
        raise not_found(number)
    refuse_if_cancelled(uow, item, "instructions")
    rulebook = rules.opinion_rulebook()
    errors = {}
    if data["level"] not in codes(rulebook, "instruction_levels"):
        errors["level"] = [f"one of: {', '.join(codes(rulebook, 'instruction_levels'))}"]
    if data["channel"] not in codes(rulebook, "channels"):
        errors["channel"] = [f"one of: {', '.join(codes(rulebook, 'channels'))}"]
    if errors:
        raise InvalidInput("the instruction", errors)
    row = next((r for r in uow.opinions.reports_of(item) if r.channel == data["channel"]), None)
    if row is None or row.adoption != "adopted":
        raise Conflict(f"opinion item {number} has no adopted report to {data['channel']} to be instructed on")
    same = next(
        (
            given
            for given in uow.opinions.instructions_of([item.id])
            if (given.channel, given.level, given.leader, given.text)
            == (data["channel"], data["level"], data["leader"], data["text"])
        ),
        None,
    )
    if same is not None:
        # Sent twice (a double click, a retry): it was stored and reported once, and stays so.
        raise Conflict(
            f"this instruction on opinion item {number} was recorded already on "
            f"{clock.in_words(same.recorded_at.isoformat())} by {same.recorded_by}",
            {"instruction_id": same.id},
        )
    instruction = OpinionInstruction(
        item_id=item.id,
        channel=data["channel"],
        level=data["level"],
        leader=data["leader"],
        text=data["text"],
        recorded_by=user,
        recorded_at=clock.now(),
    )
    uow.opinions.add_instruction(instruction)
    uow.flush()
    record(
        uow,
        item,
        user,
        "instructed",
        {"channel": data["channel"], "level": data["level"], "leader": data["leader"], "text": data["text"]},
    )
    event(
        uow,
        item,
        "opinion.instructed",
        str(instruction.id),
        {"level": data["level"], "channel": data["channel"], "leader": data["leader"]},
    )
    level = label(rulebook, "instruction_levels", data["level"], "unknown_level").zh
    tell(
        uow,
        item,
        "instructed",
        str(instruction.id),
        f"社情民意信息 {item.number} 获{level}",
        f"{data['leader']}批示：{data['text']}",
    )
    uow.flush()
    return dump(uow, item)


# -- 踪 track: forwarding to departments (转办) and their answers ---------------------------------


def forward(uow: IntakeUnitOfWork, rules: IntakeRules, params: dict, principal: dict | None) -> dict:
    """Forward (转办) an adopted item to departments, each to answer by the rulebook's ``forward_answer``."""
    data = load(ForwardParams, params, "intake.forward parameters")
    item = by_id(uow, data["item_id"], lock=True)
    refuse_if_cancelled(uow, item, "forwarding")
    unknown = sorted(set(data["units"]) - known_units())
    if unknown:
        raise BusinessError("unknown_unit", f"no such units: {', '.join(unknown)}")
    if item.status not in ("adopted", "forwarded", "not_handled"):
        raise BusinessError(
            "not_adopted", f"opinion item {item.number} is {item.status}; only adopted items are forwarded"
        )
    now = clock.now()
    due = rules.opinion_deadline("forward_answer", now)
    existing = {f.unit for f in uow.opinions.forwards_of(item)}
    for unit in dict.fromkeys(data["units"]):
        if unit not in existing:
            uow.opinions.add_forward(
                OpinionForward(
                    item_id=item.id,
                    unit=unit,
                    request=data["request"],
                    due=clock.as_utc(due.ends_at),
                    status="forwarded",
                    forwarded_by=data["forwarded_by"],
                    forwarded_at=now,
                )
            )
    item.status = "forwarded"
    record(
        uow,
        item,
        data["forwarded_by"],
        "forwarded",
        {"units": data["units"], "request": data["request"], "answer_due": due.as_dict()},
    )
    tell(
        uow,
        item,
        "forwarded",
        "forwarded",
        f"社情民意信息 {item.number} 已转有关部门办理",
        f"转办：{names.units_zh(data['units'], seeded())}，答复期限 {due.due.isoformat()}。",
    )
    uow.flush()
    return {"units": data["units"], "answer_due": clock.as_utc(due.ends_at).isoformat()}


def answer_forward(uow: IntakeUnitOfWork, number: str, request: dict, principal: dict) -> dict:
    """A department answers an item forwarded to it (only its own); the last answer tells the
    process (``forwards_answered``)."""
    user, roles = acting_user(principal)
    unit = principal.get("unit")
    if "unit" not in roles or not unit:
        raise Forbidden("departments (role unit) answer forwarded items")
    data = load(AnswerRequest, request, "the answer")
    item = by_number(uow, number, lock=True)
    if item is None:
        raise not_found(number)
    rows = uow.opinions.forwards_of(item)
    mine = next((f for f in rows if f.unit == unit), None)
    if mine is None:
        raise Forbidden(f"opinion item {number} was not forwarded to {unit}")
    refuse_if_cancelled(uow, item, "answers")
    if mine.status == "answered":
        raise Conflict(f"{unit} already answered opinion item {number}")
    mine.status, mine.answer, mine.answered_by, mine.answered_at = "answered", data["text"], user, clock.now()
    record(uow, item, user, "answered", {"unit": unit, "text": data["text"]})
    tell(
        uow,
        item,
        "answered",
        unit,
        f"社情民意信息 {item.number} 收到 {names.zh(seeded().get(unit), unit)} 的办理答复",
        data["text"],
    )
    uow.flush()
    if all(f.status == "answered" for f in rows):
        uow.send_message(
            name=messages.FORWARDS_ANSWERED,
            correlation_key=item.number,
            message_id=f"forwards-answered-{item.number}",
            payload={"units": [f.unit for f in rows]},
        )
    return {"number": item.number, "unit": unit, "status": mine.status, "answered_at": mine.answered_at.isoformat()}


def mark_overdue(uow: IntakeUnitOfWork, rules: IntakeRules, params: dict, principal: dict | None) -> dict:
    """The answer time passed with departments still silent: the item is not handled (未办理); the
    staff who forwarded it are told; the next check is ``overdue_reminder`` later."""
    item = by_id(uow, load(ItemRef, params, "intake.mark_overdue parameters")["item_id"], lock=True)
    refuse_if_cancelled(uow, item, "overdue checks")
    now = clock.now()
    rows = uow.opinions.forwards_of(item)
    late = [f for f in rows if f.status != "answered"]
    for f in late:
        f.status = "overdue"
    if late and item.status == "forwarded":
        item.status = "not_handled"
    if late:
        record(uow, item, _actor(principal), "answers_overdue", {"units": [f.unit for f in late]})
        tell(
            uow,
            item,
            "answers_overdue",
            now.isoformat(),
            f"社情民意信息 {item.number} 转办答复逾期",
            "逾期未答复：" + "、".join(f.unit for f in late),
            recipients=sorted({f.forwarded_by for f in late}),
        )
    following = rules.opinion_deadline("overdue_reminder", now)
    return {"overdue": [f.unit for f in late], "next_check": clock.as_utc(following.ends_at).isoformat()}


def close(uow: IntakeUnitOfWork, params: dict, principal: dict | None) -> dict:
    """The end of tracking: handled (办结) when every department answered; the submitter is told."""
    item = by_id(uow, load(ItemRef, params, "intake.close parameters")["item_id"], lock=True)
    refuse_if_cancelled(uow, item, "closing of its tracking")
    rows = uow.opinions.forwards_of(item)
    if rows and all(f.status == "answered" for f in rows) and item.status in ("forwarded", "not_handled"):
        item.status = "handled"
        tell(uow, item, "handled", "closed", f"社情民意信息 {item.number} 已办结", "有关部门均已答复。")
    elif not rows and item.status == "adopted":
        tell(uow, item, "closed", "closed", f"社情民意信息 {item.number} 跟踪结束", "已被采用，无需转办。")
    record(uow, item, _actor(principal), "closed", {"status": item.status})
    case_outcome.opinion_settled(uow, item)
    uow.flush()
    return {"status": item.status}
