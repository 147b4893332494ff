"""The task list: user tasks as work items for a candidate role, unit or user; claiming and
completing them (with the task's form checked first)."""

from __future__ import annotations

import functools
import uuid
import weakref
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar, Unpack, cast

from marshmallow import Schema, ValidationError

from shared.contracts import field_types as fields
from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from shared import clock, contracts
from shared.db import pooled, transaction
from shared.direct import Direct
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.forms import FORMS
from shared.principal import acting_user
from shared.validation import PageQuery, made, page_window
from shared.sandbox import LimitExceeded
from shared.workflow.runtime import StepFailed, TaskNotWaiting, UserTaskInfo, WaitState, root_cause

from .incidents import Incidents
from .models import History, WorkItem
from .store import CAUGHT_ERROR, INSTANCES, STEP_COLUMNS, Answer, InstanceStore, StepInstance, iso, step_instance
from .views import TaskPageView, WorkItemView

# A save reads and writes its instance's work items as Core statements (no ORM object is needed
# after them); the read is built once.
WORK_ITEMS = cast(Table, WorkItem.__table__)
INSERT_WORK_ITEMS = insert(WORK_ITEMS)
OPEN_ITEMS = select(WORK_ITEMS.c.task_id).where(
    WORK_ITEMS.c.instance_id == bindparam("instance_id"), WORK_ITEMS.c.status == "open"
)
# What completing a task reads of its item, and its instance, in one statement of the step's
# transaction (the instance's columns last: see store.STEP_COLUMNS).
ITEM_TO_COMPLETE = (
    select(
        WORK_ITEMS.c.task_id,
        WORK_ITEMS.c.instance_id,
        WORK_ITEMS.c.task_name,
        WORK_ITEMS.c.status,
        WORK_ITEMS.c.candidate_role,
        WORK_ITEMS.c.candidate_unit,
        WORK_ITEMS.c.candidate_user,
        WORK_ITEMS.c.claimed_by,
        WORK_ITEMS.c.form_schema,
        *STEP_COLUMNS,
    )
    .join_from(WORK_ITEMS, INSTANCES, INSTANCES.c.id == WORK_ITEMS.c.instance_id)
    .where(WORK_ITEMS.c.task_id == bindparam("task_id"))
)
COMPLETE_ITEM = update(WORK_ITEMS).where(WORK_ITEMS.c.task_id == bindparam("completed_id"))
# The same, run on the driver's cursor (shared/direct.py): a step's own statements.
OPEN_ITEMS_DIRECT = Direct(OPEN_ITEMS)
ITEM_TO_COMPLETE_DIRECT = Direct(ITEM_TO_COMPLETE)
COMPLETE_ITEM_DIRECT = Direct(COMPLETE_ITEM, ("status", "completed_at", "completed_by"))
INSERT_WORK_ITEMS_DIRECT = Direct(
    INSERT_WORK_ITEMS,
    (
        "task_id",
        "instance_id",
        "process_id",
        "business_key",
        "task_name",
        "title",
        "candidate_role",
        "candidate_unit",
        "candidate_user",
        "form_schema",
        "status",
        "created_at",
        "reason",
    ),
)

# ITEM_TO_COMPLETE's row (the item's columns, then its instance's), and what _may_take checks.
ItemRow = Row[Any]
I = TypeVar("I", WorkItem, ItemRow)


def form(name: str) -> Schema:
    """The form ``name`` (a key of FORMS), made once (``shared.validation.made``): making one costs
    more than checking what a person filled in."""
    return made(FORMS[name])


LAST_CANCELLATION = (
    select(History.at, History.actor, History.data)
    .where(History.instance_id == bindparam("instance_id"), History.action == "cancelled")
    .order_by(History.id.desc())
    .limit(1)
)


def _closed(s: Session | None, item: Candidates, task_id: str) -> Conflict:
    """Why a task that was someone's to do is no longer open: done already, its process suspended
    by an operator, or cancelled — by an operator (who, when, why, and in ``details.cancelled``
    as every refusal for a cancellation says it: ``contracts.cancelled_details``) or by the
    process itself moving on (a boundary event interrupted it)."""
    status = getattr(item, "status", None)
    if status == "completed":
        return Conflict(f"task {task_id} was already completed; nothing was changed")
    if status == "suspended":
        return Conflict(f"task {task_id} waits: an operator suspended its process; try again once it is resumed")
    row = None
    if s is not None:
        row = s.execute(LAST_CANCELLATION, {"instance_id": getattr(item, "instance_id", None)}).first()
    if row is None:
        return Conflict(f"task {task_id} was closed: its process went on without it; nothing was changed")
    data = row.data if isinstance(row.data, dict) else {}
    at = clock.as_utc(row.at).isoformat() if row.at is not None else None
    return Conflict(
        f"task {task_id} was closed when its process was cancelled on {clock.in_words(at or '?')} by {row.actor} "
        f"({data.get('reason') or 'no reason recorded'}); nothing was changed",
        contracts.cancelled_details(row.actor, at, data.get("reason")),
    )


class TaskQuery(PageQuery):
    """What a page of the task list asks: which page, how long, and the filters it keeps."""

    instance_id = fields.String(load_default=None)
    business_key = fields.String(load_default=None)
    process_id = fields.String(load_default=None)


TASK_QUERY = TaskQuery()  # made once (see form())


class Candidates(Protocol):
    """What :func:`may_act` reads of a work item (its ORM row, or a Core row of its columns)."""

    @property
    def candidate_role(self) -> str | None: ...
    @property
    def candidate_unit(self) -> str | None: ...
    @property
    def candidate_user(self) -> str | None: ...


def may_act(item: Candidates, principal: Mapping[str, Any] | None) -> bool:
    principal = principal or {}
    roles = set(principal.get("roles") or [])
    if item.candidate_user and item.candidate_user != principal.get("user"):
        return False
    if item.candidate_role and item.candidate_role not in roles:
        return False
    if item.candidate_unit and item.candidate_unit != principal.get("unit"):
        return False
    return True


# What an answer lists of a work item (work_item_dict), read as columns: no ORM object is needed.
ITEM_COLUMNS = (
    WORK_ITEMS.c.task_id,
    WORK_ITEMS.c.instance_id,
    WORK_ITEMS.c.process_id,
    WORK_ITEMS.c.business_key,
    WORK_ITEMS.c.task_name,
    WORK_ITEMS.c.title,
    WORK_ITEMS.c.candidate_role,
    WORK_ITEMS.c.candidate_unit,
    WORK_ITEMS.c.candidate_user,
    WORK_ITEMS.c.form_schema,
    WORK_ITEMS.c.claimed_by,
    WORK_ITEMS.c.status,
    WORK_ITEMS.c.created_at,
    WORK_ITEMS.c.reason,
)


def work_item_dict(w: WorkItem | Row[Unpack[tuple[Any, ...]]]) -> WorkItemView:
    return {
        "task_id": w.task_id,
        "instance_id": w.instance_id,
        "process_id": w.process_id,
        "business_key": w.business_key,
        "task": w.task_name,
        "title": w.title,
        "candidate_role": w.candidate_role,
        "candidate_unit": w.candidate_unit,
        "candidate_user": w.candidate_user,
        "form_schema": w.form_schema,
        "claimed_by": w.claimed_by,
        "status": w.status,
        "created_at": iso(w.created_at),
        "reason": w.reason,
    }


def _left_user_tasks(workflow: BpmnWorkflow, inst: StepInstance) -> bool:
    """Whether the instance's last save may have left a user task waiting, so an open work item.

    Work items are opened only by :meth:`TaskList.sync` in a save, for the user tasks of that save's
    wait state, whose names the save stores in ``waiting_tasks``; each later save cancels those no
    longer ready. A name no spec of the workflow knows (a migration renamed it) counts as one."""
    names = set(inst.waiting_tasks or ())
    if not names:
        return False
    kinds = _task_kinds.get(workflow.spec)
    if kinds is None:  # once per deployed version: its specs are restored once and shared
        kinds = {}
        for spec in (workflow.spec, *workflow.subprocess_specs.values()):
            for task_spec in spec.task_specs.values():
                name = task_spec.bpmn_id or task_spec.name
                kinds[name] = kinds.get(name, False) or bool(task_spec.manual)
        _task_kinds[workflow.spec] = kinds
    return any(kinds.get(name, True) for name in names)


# A version's task names -> whether one of that name is a user task, by its process spec (whose
# subprocess specs are restored with it, for that version alone); forgotten with the spec.
_task_kinds: weakref.WeakKeyDictionary[Any, dict[str, bool]] = weakref.WeakKeyDictionary()


# A work item's candidates as ix_work_items_open_order holds them: an empty one (NULL or '') as ''.
# The literal '' is written into the SQL, not bound: a database uses an index on an expression only
# for that same expression.
_EMPTY: ColumnElement[str] = literal_column("''")
CANDIDATE_KEYS = (
    func.coalesce(WORK_ITEMS.c.candidate_role, _EMPTY),
    func.coalesce(WORK_ITEMS.c.candidate_unit, _EMPTY),
    func.coalesce(WORK_ITEMS.c.candidate_user, _EMPTY),
)


def candidate_kinds(principal: Mapping[str, Any] | None) -> list[tuple[str, str, str]]:
    """Every (role, unit, user) of candidates, an empty one as '', that :func:`may_act` lets this
    principal act on: each candidate empty or theirs. A work item has exactly one of them, so the
    items of one kind never meet those of another."""
    principal = principal or {}
    roles = sorted({"", *(principal.get("roles") or [])})
    units = sorted({"", principal.get("unit") or ""})
    users = sorted({"", principal.get("user") or ""})
    return [(role, unit, user) for role in roles for unit in units for user in users]


def visible_to(principal: Mapping[str, Any] | None) -> tuple[ColumnElement[bool], ...]:
    """The SQL condition :func:`may_act` states, for the task list to filter in the database: the
    item's candidates are one of :func:`candidate_kinds`. The page reads the same kinds as ranges
    of an index (:func:`_open_page`). ``tests/integration/services/engine/test_task_list_filter.py``
    holds the two to the same answers."""
    return (
        or_(
            *(
                and_(*(key == value for key, value in zip(CANDIDATE_KEYS, kind, strict=True)))
                for kind in candidate_kinds(principal)
            )
        ),
    )


# What a person's list may be narrowed by: work-item columns, each to one value.
TASK_FILTERS = ("instance_id", "business_key", "process_id")


def _filters(**given: str | None) -> dict[str, str]:
    """The filters of :data:`TASK_FILTERS` given a value, by column name."""
    return {name: value for name, value in given.items() if value}


def open_where(principal: Mapping[str, Any] | None, filters: Mapping[str, str]) -> tuple[ColumnElement[bool], ...]:
    """The open items this principal may act on, narrowed by ``filters`` (column name to value), as
    SQL conditions: the unbounded list's; a page reads the same items by :func:`_open_page`."""
    return (
        WORK_ITEMS.c.status == "open",
        *visible_to(principal),
        *(WORK_ITEMS.c[name] == value for name, value in filters.items()),
    )


@functools.lru_cache(maxsize=64)
def _page_statements(kinds: int, filters: tuple[str, ...]) -> tuple[Select[Any], Select[Any]]:
    """The count and the page of :func:`_open_page` for ``kinds`` kinds of candidates and the
    filters named, built once: every value is a bound parameter (``k<kind>_<candidate>``, each
    filter by its column's name, ``reach``, ``offset`` and ``limit``)."""
    base = (WORK_ITEMS.c.status == "open", *(WORK_ITEMS.c[name] == bindparam(name) for name in filters))

    def of_kind(i: int) -> tuple[ColumnElement[bool], ...]:
        return (*base, *(key == bindparam(f"k{i}_{j}") for j, key in enumerate(CANDIDATE_KEYS)))

    counted = union_all(*(select(WORK_ITEMS.c.task_id).where(*of_kind(i)) for i in range(kinds))).subquery()
    ranges = [
        select(*ITEM_COLUMNS)
        .where(*of_kind(i))
        .order_by(WORK_ITEMS.c.created_at, WORK_ITEMS.c.task_id)
        .limit(bindparam("reach"))
        .subquery()
        for i in range(kinds)
    ]
    merged = union_all(*(select(*r.c) for r in ranges)).subquery()
    page = (
        select(*merged.c)
        .order_by(merged.c.created_at, merged.c.task_id)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )
    return select(func.count()).select_from(counted), page


def _open_page(
    conn: Connection, filters: Mapping[str, str], principal: Mapping[str, Any] | None, offset: int, limit: int
) -> tuple[int, list[WorkItemView]]:
    """How many open items (narrowed by ``filters``: column name to value) this principal may act
    on, and the page of them at ``offset``, oldest first. Each kind of candidates they match is one
    range of ix_work_items_open_order, already in the list's order: each range gives at most its
    first ``offset + limit`` rows and the page is taken from those, so a page reads what it shows,
    not every open item of a person with thousands. The count reads the same ranges of the index."""
    kinds = candidate_kinds(principal)
    count, page = _page_statements(len(kinds), tuple(sorted(filters)))
    params: dict[str, Any] = {f"k{i}_{j}": value for i, kind in enumerate(kinds) for j, value in enumerate(kind)}
    params.update(filters)
    total = conn.execute(count, params).scalar() or 0
    if not total or offset >= total:
        return total, []
    rows = conn.execute(page, {**params, "reach": offset + limit, "offset": offset, "limit": limit})
    return total, [work_item_dict(row) for row in rows]


def _open_items(conn: Connection, where: tuple[ColumnElement[bool], ...]) -> list[WorkItemView]:
    """The open items meeting ``where``, oldest first (created, then task id: a stable order),
    read as columns on a pooled connection, without a session or ORM objects."""
    query = select(*ITEM_COLUMNS).where(*where).order_by(WORK_ITEMS.c.created_at, WORK_ITEMS.c.task_id)
    return [work_item_dict(row) for row in conn.execute(query)]


class TaskList:
    def __init__(self, store: InstanceStore, incidents: Incidents) -> None:
        self.store = store
        self.incidents = incidents

    # -- a save step ------------------------------------------------------------------------------
    def sync(
        self,
        s: Session,
        inst: StepInstance,
        workflow: BpmnWorkflow,
        wait: WaitState,
        principal: Mapping[str, Any] | None,
    ) -> None:
        """Open a work item for each user task that became ready; cancel those that are gone."""
        left = _left_user_tasks(workflow, inst)
        if not wait.user_tasks and not left:
            return  # no task is ready, and the last save left none whose item could be open
        # What the step changed through the ORM counts (an item it deleted), as when this read autoflushed.
        s.flush()
        conn = s.connection()
        ready = {u.task_id: u for u in wait.user_tasks}
        # The last save left no user task, so no item of this instance is open: none to read.
        existing = {r[0] for r in OPEN_ITEMS_DIRECT.rows(conn, {"instance_id": inst.id})} if left else set()
        now = clock.now()
        gone = [task_id for task_id in existing if task_id not in ready]
        if gone:
            conn.execute(
                update(WORK_ITEMS)
                .where(WORK_ITEMS.c.task_id.in_(gone), WORK_ITEMS.c.status == "open")
                .values(status="cancelled", completed_at=now)
            )
        opened = []
        # The business error this step's diagram caught, if any: why the task is asked for now.
        reason = s.info.get(CAUGHT_ERROR)
        for task_id, info in ready.items():
            if task_id in existing:
                continue
            props = info.properties
            try:
                candidate_unit = self._expression(workflow, task_id, info, props.get("candidateUnit"))
                candidate_user = self._expression(workflow, task_id, info, props.get("candidateUser"))
            except StepFailed as exc:
                # No work item that nobody could be sure to see: an incident names the element instead.
                self.incidents.open_for_step_once(s, inst, exc)
                continue
            opened.append(
                {
                    "task_id": task_id,
                    "instance_id": inst.id,
                    "process_id": inst.process_id,
                    "business_key": inst.business_key,
                    "task_name": info.task_name,
                    "title": info.title,
                    "candidate_role": props.get("candidateRole") or info.lane,
                    "candidate_unit": candidate_unit,
                    "candidate_user": candidate_user,
                    "form_schema": props.get("formSchema"),
                    "status": "open",
                    "created_at": now,
                    "reason": reason,
                }
            )
        if opened:
            INSERT_WORK_ITEMS_DIRECT.later(conn, opened)

    @staticmethod
    def _expression(workflow: BpmnWorkflow, task_id: str, info: UserTaskInfo, expression: str | None) -> str | None:
        """A candidate expression's value; StepFailed naming the element if it cannot be had."""
        if not expression:
            return None
        task = workflow.get_task_from_id(uuid.UUID(task_id))
        try:
            value = workflow.script_engine.evaluate(task, expression)
        except Exception as exc:  # noqa: BLE001 - whatever the expression did, the element is named
            cause = root_cause(exc)
            raise StepFailed(
                info.task_name,
                f"candidate expression '{expression}': {type(cause).__name__}: {cause}",
                limit_exceeded=isinstance(cause, LimitExceeded),
            ) from exc
        return None if value is None else str(value)

    # -- people ----------------------------------------------------------------------------------
    def list(
        self,
        principal: Mapping[str, Any] | None,
        instance_id: str | None = None,
        business_key: str | None = None,
        process_id: str | None = None,
    ) -> list[WorkItemView]:
        """Every open task this principal may act on among those filtered, oldest first, filtered in
        the database. Unbounded: for a list narrowed to an instance, a proposal or a process; people
        read :meth:`page`."""
        filters = _filters(instance_id=instance_id, business_key=business_key, process_id=process_id)
        with pooled(self.store.sessions) as conn:
            return _open_items(conn, open_where(principal, filters))

    def page(self, principal: Mapping[str, Any] | None, query: Mapping[str, Any] | None = None) -> TaskPageView:
        """A page of the open tasks this principal may act on: ``query`` holds ``page`` (from 1),
        ``per_page`` (1-200, default 50) and the filters ``instance_id``, ``business_key`` and
        ``process_id``. Oldest first (created, then task id: a stable order, so the pages neither
        skip nor repeat a task while none is opened or closed); ``total`` is counted in SQL, so an
        answer builds one page however many tasks are open."""
        try:
            data = TASK_QUERY.load(dict(query or {}))
        except ValidationError as exc:
            raise InvalidInput("the task list's query is not valid", exc.messages) from None
        filters = _filters(**{name: data[name] for name in TASK_FILTERS})
        offset, limit = page_window(data)
        # Two reads on a pooled connection, without a session: the rows as columns, not ORM objects.
        with pooled(self.store.sessions) as conn:
            total, items = _open_page(conn, filters, principal, offset, limit)
        # the answer written out, not shared.validation.page_answer: it is typed (TaskPageView)
        return {"page": data["page"], "per_page": data["per_page"], "total": total, "total_exact": True, "items": items}

    @staticmethod
    def _open_item(s: Session, task_id: str, principal: Mapping[str, Any] | None) -> WorkItem:
        return TaskList._may_take(s.get(WorkItem, task_id), task_id, principal, s)

    @staticmethod
    def _may_take(item: I | None, task_id: str, principal: Mapping[str, Any] | None, s: Session | None = None) -> I:
        """``item`` if it is open and ``principal`` may act on it; else NotFound, Forbidden or
        Conflict. A task that is no longer open says why to those who could have acted on it
        (:func:`_closed`); to anyone else it is not found."""
        if item is None or (item.status != "open" and not may_act(item, principal)):
            raise NotFound(f"no open task {task_id}")
        if item.status != "open":
            raise _closed(s, item, task_id)
        if not may_act(item, principal):
            raise Forbidden(
                f"{acting_user(principal)} may not act on task {task_id} "
                f"(it is for role={item.candidate_role}, unit={item.candidate_unit}, "
                f"user={item.candidate_user})"
            )
        if item.claimed_by and item.claimed_by != acting_user(principal):
            raise Conflict(f"task {task_id} is claimed by {item.claimed_by}")
        return item

    def claim(self, task_id: str, principal: Mapping[str, Any] | None) -> WorkItemView:
        with transaction(self.store.sessions) as s:
            item = self._open_item(s, task_id, principal)
            item.claimed_by = acting_user(principal)
            self.store.history(s, item.instance_id, principal, "task_claimed", item.task_name, None)
            return work_item_dict(item)

    def _completed(
        self, s: Session, inst: StepInstance, item: ItemRow, filled: dict[str, Any], principal: Mapping[str, Any] | None
    ) -> None:
        COMPLETE_ITEM_DIRECT.later(
            s.connection(),
            {
                "completed_id": item.task_id,
                "status": "completed",
                "completed_at": clock.now(),
                "completed_by": acting_user(principal),
            },
        )
        self.store.history(s, inst.id, principal, "task_completed", item.task_name, filled)

    def complete(
        self,
        task_id: str,
        data: dict[str, Any] | None,
        principal: Mapping[str, Any] | None,
        answer: Answer | None = None,
    ) -> Any:
        """Complete the task with its form's data, in one transaction: who may, the form, the step.
        Returns the instance id, or what ``answer(session, instance, saved)`` answers after the save
        (see :meth:`InstanceStore.mutate`)."""
        store = self.store
        taken: list[tuple[ItemRow, dict[str, Any]]] = []

        def find(s: Session) -> StepInstance:
            item = self._may_take(
                ITEM_TO_COMPLETE_DIRECT.first(s.connection(), {"task_id": task_id}), task_id, principal, s
            )
            filled = data or {}
            if item.form_schema:
                try:
                    filled = form(item.form_schema).load(filled)
                except ValidationError as exc:
                    raise InvalidInput(
                        f"the form '{item.form_schema}' was not filled in correctly", exc.messages
                    ) from None
            taken[:] = [(item, filled)]
            return step_instance(item)

        def change(s: Session, inst: StepInstance, workflow: BpmnWorkflow) -> str:
            [(item, filled)] = taken
            try:
                store.runtime.complete_user_task(workflow, task_id, filled, actor=acting_user(principal))
            except TaskNotWaiting as exc:
                raise Conflict(str(exc)) from None
            except StepFailed as exc:
                if not item.form_schema or exc.task_name == item.task_name:
                    raise  # the person's data may be the cause: refused, nothing kept, for them to fix
                # The form took the data; an element after the task failed: the diagram's fault. The
                # task is done, and the failure is an incident for an operator (never the person's 400).
                exc.diagram_fault = True
                self._completed(s, inst, item, filled, principal)
                raise
            self._completed(s, inst, item, filled, principal)
            return inst.id

        return store.mutate(find, change, principal, refuse_failed_step=True, answer=answer)
