"""Names shown to people.

The unit directory keeps a unit's name in Chinese and English, as ``市交通运输局 Municipal Transport
Bureau`` (``deploy/seed/units.yaml``); a sentence in Chinese names the unit by the Chinese part, and
a unit the directory does not know by its code, so nothing is dropped."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from marshmallow import EXCLUDE, Schema

from shared.contracts import field_types as fields

from shared import config
from shared.calendar import load_yaml

_HAN = re.compile(r"[\u3400-\u9fff]")


def zh(name: str | None, code: str) -> str:
    """The Chinese part of a directory's ``name`` (everything before the first space, when that
    part is Chinese); the whole name when it has no Chinese part; ``code`` when there is no name."""
    if not name or not name.strip():
        return code
    first = name.strip().split(" ", 1)[0]
    return first if _HAN.search(first) else name.strip()


def units_zh(codes: Iterable[str], names: dict[str, str] | None) -> str:
    """``codes`` in words for a Chinese sentence, joined with 、: each unit by :func:`zh` of its name
    in ``names`` (``{code: name}``)."""
    names = names or {}
    return "、".join(zh(names.get(code), code) for code in codes)


# -- the directories' seeds ------------------------------------------------------------------------
# The assignment service keeps the unit directory and the evaluation service the members directory,
# both seeded from deploy/seed/. Whoever only needs a name for a sentence or a page (intake's
# notices, the console) reads the seed, not the service: no call, and a code the seed does not know
# is shown as it is, so nothing is dropped.


class _Member(Schema):
    class Meta:
        unknown = EXCLUDE

    user = fields.String(required=True)
    name = fields.String(required=True)


class _UnitSeed(Schema):
    units = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class _MemberSeed(Schema):
    members = fields.List(fields.Nested(_Member), required=True)


@functools.lru_cache(maxsize=1)
def seeded_units() -> dict[str, str]:
    """``{code: name}`` of the unit directory's seed (``deploy/seed/units.yaml``), read once."""
    return dict(load_yaml(config.ROOT / "deploy" / "seed" / "units.yaml", _UnitSeed())["units"])


@functools.lru_cache(maxsize=1)
def seeded_members() -> dict[str, str]:
    """``{user: name}`` of the members directory's seed (``deploy/seed/members.yaml``), read once."""
    rows = load_yaml(config.ROOT / "deploy" / "seed" / "members.yaml", _MemberSeed())["members"]
    return {row["user"]: row["name"] for row in rows}


def unit_zh(code: str) -> str:
    """Unit ``code`` as a Chinese sentence or page names it: :func:`zh` of its seeded name."""
    return zh(seeded_units().get(code), code)


def member_called(user: str, known: dict[str, str] | None = None) -> str:
    """How a notice in Chinese names member ``user``: ``李明华委员``. ``known``: ``{user: name}``
    from the members directory itself (a member added or renamed since the seed); else the seed's
    name; a member neither knows, by their user id."""
    name = (known or {}).get(user) or seeded_members().get(user)
    return f"{name}委员" if name else user
