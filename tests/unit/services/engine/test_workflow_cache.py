"""The engine's cache of restored workflows (services/engine/cache.py): one revision per entry,
taken out while a step runs, bounded by count with the least recently used going first."""

from __future__ import annotations

from services.engine.cache import WorkflowCache


def test_a_workflow_is_given_back_only_for_the_revision_and_version_it_was_saved_at():
    cache = WorkflowCache(10)
    cache.put("inst-1", 3, 1, "workflow at 3")
    assert cache.take("inst-1", 4, 1) is None  # another process saved revision 4
    assert cache.take("inst-1", 3, 1) is None  # and the stale copy was dropped
    cache.put("inst-1", 3, 1, "workflow at 3")
    assert cache.take("inst-1", 3, 2) is None  # migrated to another version meanwhile
    cache.put("inst-1", 3, 1, "workflow at 3")
    assert cache.take("inst-1", 3, 1) == "workflow at 3"


def test_a_workflow_being_stepped_is_out_of_the_cache_until_its_step_is_put_back():
    cache = WorkflowCache(10)
    cache.put("inst-1", 1, 1, "workflow")
    assert cache.take("inst-1", 1, 1) == "workflow"
    assert cache.take("inst-1", 1, 1) is None, "a second step in the same process got the same object"
    assert len(cache) == 0


def test_the_least_recently_used_instance_goes_first_when_the_cache_is_full():
    cache = WorkflowCache(2)
    cache.put("a", 1, 1, "a1")
    cache.put("b", 1, 1, "b1")
    cache.put("a", 2, 1, "a2")  # a is used again: b is now the oldest
    cache.put("c", 1, 1, "c1")
    assert len(cache) == 2
    assert cache.revision("b") is None
    assert cache.revision("a") == 2 and cache.revision("c") == 1


def test_a_cache_of_size_zero_keeps_nothing():
    cache = WorkflowCache(0)
    cache.put("a", 1, 1, "a1")
    assert len(cache) == 0 and cache.take("a", 1, 1) is None
