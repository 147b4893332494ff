"""Restored workflows of hot instances, kept in memory between their steps.

Restoring an instance's SpiffWorkflow state from its JSON costs more than most steps. An entry
holds the workflow exactly as a committed save left it, valid for that save's revision and
version only: the store takes an entry out before it steps the workflow and puts it back only
after the step's transaction committed. So a step that fails or rolls back (an error, a stale
revision, a refusal) leaves nothing in the cache, two steps in one process never share a
workflow object, and a revision saved by another process (or by a status change) makes the entry
stale and the instance is restored from the database. Correctness stays with the revision check
of :meth:`InstanceStore.save`; the cache only spares the restore.

A plain :class:`collections.OrderedDict` is enough for a least-recently-used bound by count with
these take-out/put-back semantics; no library is needed for it.
"""

from __future__ import annotations

from collections import OrderedDict

from SpiffWorkflow.bpmn import BpmnWorkflow


class WorkflowCache:
    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._entries: OrderedDict[str, tuple[int, int, BpmnWorkflow]] = (
            OrderedDict()
        )  # instance id -> (revision, version id, workflow)

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, instance_id: str, revision: int, version_id: int) -> BpmnWorkflow | None:
        """The workflow saved at ``revision`` on ``version_id``, removed from the cache; None if
        there is none or the one held is of another revision or version (it is dropped)."""
        entry = self._entries.pop(instance_id, None)
        if entry is None or entry[0] != revision or entry[1] != version_id:
            return None
        return entry[2]

    def put(self, instance_id: str, revision: int, version_id: int, workflow: BpmnWorkflow) -> None:
        """Keep ``workflow`` as committed at ``revision``; the least recently used entry goes
        when the cache is full."""
        if self.size == 0:
            return
        self._entries[instance_id] = (revision, version_id, workflow)
        self._entries.move_to_end(instance_id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def drop(self, instance_id: str) -> None:
        self._entries.pop(instance_id, None)

    def revision(self, instance_id: str) -> int | None:
        """The revision held for an instance, if any (for tests and diagnostics)."""
        entry = self._entries.get(instance_id)
        return None if entry is None else entry[0]
