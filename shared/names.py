"""Names shown to people.

The unit directory keeps a unit's name in Chinese and English, as ``市交通运输局 Municipal Transport
Bureau`` (``deploy/seed/units.yaml``); a sentence in Chinese names the unit by the Chinese part, and
a unit the directory does not know by its code, so nothing is dropped."""

from __future__ import annotations

import re
from collections.abc import Iterable

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
