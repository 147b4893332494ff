"""The units intake names and checks: the directory's seed (``deploy/seed/units.yaml``). The
assignment service keeps the directory, seeded from the same file; intake reads the file, not the
service, so forwarding an opinion item or naming a unit in a notice needs no call."""

from __future__ import annotations

import functools

from marshmallow import Schema, fields

from shared import config
from shared.calendar import load_yaml


class _Seed(Schema):
    units = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


@functools.lru_cache(maxsize=1)
def seeded() -> dict[str, str]:
    """``{code: name}`` of the directory's seed, read once per process."""
    return dict(load_yaml(config.ROOT / "deploy" / "seed" / "units.yaml", _Seed())["units"])


def known_units() -> set[str]:
    """The unit codes of the directory seed."""
    return set(seeded())
