"""Which console page a task's or a notification's subject opens.

A subject is a business key: a proposal's number (``2027-0012``), an opinion item's (``SQ-2027-0003``,
its prefix from the opinion rulebook's ``numbering``), a micro-consultation case's, or anything a
diagram chose. Only the first two have a page of their own; anything else gets no link rather than
a link to a page that answers 404."""

from __future__ import annotations

import re
from urllib.parse import quote

from .leader import opinion_rulebook

PROPOSAL_NUMBER = re.compile(r"\d{4}-\d+")


def opinion_prefix() -> str:
    """The opinion items' number prefix, read again when the rulebook changes."""
    return str((opinion_rulebook().get("numbering") or {}).get("prefix") or "")


def kind_of(key: str | None) -> str | None:
    """``proposal``, ``opinion``, or None for a key with no page of its own."""
    if not key:
        return None
    if PROPOSAL_NUMBER.fullmatch(key):
        return "proposal"
    prefix = opinion_prefix()
    if prefix and re.fullmatch(rf"{re.escape(prefix)}-\d{{4}}-\d+", key):
        return "opinion"
    return None


def subject_page(key: str | None, may_read_proposals: bool = True, may_list_assignments: bool = False) -> str | None:
    """The page ``key`` opens for its reader, or None.

    A proposal opens its own page for whoever may read proposals; a unit's handler, who may not,
    opens the unit's assignments of it; an opinion item opens its page (the API decides who sees
    it, as for any page)."""
    kind = kind_of(key)
    if kind == "opinion":
        return f"/console/opinions/{quote(str(key), safe='')}"
    if kind != "proposal":
        return None
    if may_read_proposals:
        return f"/console/proposals/{quote(str(key), safe='')}"
    if may_list_assignments:
        return f"/console/assignments?number={quote(str(key), safe='')}"
    return None
