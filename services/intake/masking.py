"""Personal data hidden in what is published: names, phone numbers, identity card numbers."""
from __future__ import annotations

import re

# An 18-digit resident identity number (last character may be X) or an old 15-digit one; matched
# before phone numbers, which look like a part of it.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
# A mainland mobile number (optionally +86), or a landline with its area code.
_PHONE = re.compile(r"(?<!\d)((?:\+?86[- ]?)?1[3-9]\d{9}|0\d{2,3}-?\d{7,8})(?!\d)")


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


def mask_name(name: str) -> str:
    """``李明`` -> ``李*``, ``欧阳娜娜`` -> ``欧***``; other names -> first letter and ``***``."""
    name = (name or "").strip()
    if not name:
        return name
    if _is_cjk(name[0]):
        return name[0] + "*" * max(len(name) - 1, 1)
    return name[0] + "***"


def _keep_ends(text: str, head: int, tail: int) -> str:
    return text[:head] + "*" * (len(text) - head - tail) + text[-tail:]


def mask_text(text: str, names: list[str] = ()) -> str:
    """``text`` with identity numbers, phone numbers and the given names masked."""
    text = _ID_NUMBER.sub(lambda m: _keep_ends(m.group(1), 3, 4), text or "")
    text = _PHONE.sub(lambda m: _keep_ends(m.group(1), len(m.group(1)) - 8, 4), text)
    for name in sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len, reverse=True):
        # A Latin name only as a whole word: "li" must not mask the "li" in "public".
        pattern = re.escape(name) if _is_cjk(name[0]) else rf"(?<!\w){re.escape(name)}(?!\w)"
        masked = mask_name(name)
        text = re.sub(pattern, lambda _match: masked, text)
    return text
