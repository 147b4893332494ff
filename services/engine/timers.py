"""Timers: fired from each instance's persisted ``next_timer`` by the engine's tick."""

from __future__ import annotations

import logging

from SpiffWorkflow.bpmn import BpmnWorkflow
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from shared import clock
from shared.db import pooled

from .models import Instance
from .store import InstanceStore, StepInstance

log = logging.getLogger(__name__)

# The tick's look, every second in every engine process whether or not anything is due: one
# prebuilt indexed select (ix_instances_status_timer) on a pooled connection, without a session.
DUE = (
    select(Instance.id)
    .where(
        Instance.status.in_(("waiting", "incident")),
        Instance.next_timer.is_not(None),
        Instance.next_timer <= bindparam("now"),
    )
    .order_by(Instance.next_timer)
    .limit(bindparam("limit"))
)


class Timers:
    def __init__(self, store: InstanceStore) -> None:
        self.store = store

    def fire_due(self, limit: int = 100) -> int:
        """Fire the timers that are due by the clock; returns how many instances moved."""
        store = self.store
        with pooled(store.sessions) as conn:
            due = conn.execute(DUE, {"now": clock.now(), "limit": limit}).scalars().all()
        fired = 0
        for instance_id in due:

            def change(s: Session, inst: StepInstance, workflow: BpmnWorkflow) -> str:
                before = list(inst.waiting_tasks)
                store.runtime.fire_timers(workflow)
                after = store.runtime.wait_state(workflow).waiting_tasks
                if before != after:
                    store.history(s, inst.id, None, "timer_fired", ",".join(before), None)
                return "fired"

            try:
                store.mutate(instance_id, change)
                fired += 1
            except Exception:  # one broken instance must not stop the others' timers
                log.exception("firing timers of instance %s failed", instance_id)
        return fired
