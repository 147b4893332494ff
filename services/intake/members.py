"""The members intake names in a notice: the directory's seed (``deploy/seed/members.yaml``). The
evaluation service keeps the members directory, seeded from the same file; intake reads the file,
not the service, so naming who invited a co-signer needs no call (as :mod:`.units` does for units)."""

from __future__ import annotations

import functools

from marshmallow import EXCLUDE, Schema, fields

from shared import config
from shared.calendar import load_yaml


class _Member(Schema):
    class Meta:
        unknown = EXCLUDE

    user = fields.String(required=True)
    name = fields.String(required=True)


class _Seed(Schema):
    members = fields.List(fields.Nested(_Member), required=True)


@functools.lru_cache(maxsize=1)
def seeded() -> dict[str, str]:
    """``{user: name}`` of the directory's seed, read once per process."""
    rows = load_yaml(config.ROOT / "deploy" / "seed" / "members.yaml", _Seed())["members"]
    return {row["user"]: row["name"] for row in rows}


def called(user: str) -> str:
    """How a notice in Chinese names member ``user``: ``李明华委员``; a member the seed does not know
    by their user id, so nothing is dropped."""
    name = seeded().get(user)
    return f"{name}委员" if name else user
