"""Personal data hidden in what is published: names, phone numbers, identity card numbers, e-mail
addresses.

Numbers are found however they are written: full-width digits (１３８…), any other decimal digits,
digits written as superscripts or in circles (¹³⁸, ①③⑧) and as Chinese numerals (一三八…, 壹叁捌…)
count as digits; spaces (also the
ideographic space), hyphens and dashes, dots, slashes, underscores, tildes and brackets between
digits do not break a number (``138 0013 8000``, ``138-0013-8000``, ``139/1111/2222``,
``(010)12345678``, ``110101 19900307 123X``), and invisible characters (a zero-width space, a soft
hyphen: Unicode's format characters) are taken out of the text first, since a reader does not see
them.
A run of digits so joined is masked whole when it holds a mobile number (11 digits starting
1[3-9]), is 15 digits or more (an identity number, a bank card), is 18 characters ending in X (an
identity number), or is a landline with its area code (10 to 12 digits starting with 0). Dates,
amounts and counts (shorter runs) are left alone. Masking keeps the first three and the last four
digits: ``138****8000``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence

# Separators that may stand between the digits of one number.
_SEPARATORS = frozenset(
    " \t\u00a0\u2002\u2003\u2009\u200a\u202f\u205f\u3000"  # spaces
    "-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"  # hyphens, dashes
    ".\u00b7\u2027\u30fb\uff0e\uff65"  # dots
    "/\uff0f_\uff3f~\u301c\uff5e"  # slashes, underscores, tildes
    "()\uff08\uff09[]\uff3b\uff3d"  # brackets, as around an area code: (010)12345678
)
_MAX_GAP = 3  # at most this many separators together inside one number
_NAME_GAP = "[\\s\u3000\u00b7\u30fb\u2027\\-\u2010-\u2015\uff0d]{0,3}"  # between a Chinese name's characters
_X = frozenset("Xx\uff38\uff58")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-]{1,64})[@\uff20]"
    r"([A-Za-z0-9-]{1,63}(?:[.\uff0e][A-Za-z0-9-]{1,63})+)"
)


def _is_cjk(ch: str) -> bool:
    return "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"


# Digits written as Chinese numerals, as a phone number is read out or written to get past a filter:
# 一三九…, 壹叁玖…, 幺 for one as it is spoken in numbers. (两, "two of", is prose, not a digit.)
_CHINESE_DIGITS = dict(zip("〇零一二三四五六七八九幺壹贰貳叁參肆伍陆陸柒捌玖", "001234567891122334566789", strict=True))


def _digit(ch: str) -> str | None:
    """The ASCII digit ``ch`` stands for (full-width and other decimal digits, Chinese numerals
    included), else None."""
    if "0" <= ch <= "9":
        return ch
    value = unicodedata.digit(ch, None)  # decimal digits, and superscript or circled ones
    return str(value) if value is not None else _CHINESE_DIGITS.get(ch)


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


def _personal(digits: str) -> bool:
    return (
        len(digits) >= 15 or _MOBILE.search(digits) is not None or (digits.startswith("0") and 10 <= len(digits) <= 12)
    )


def _same_kind(ch: str, chinese: bool) -> bool:
    """``ch`` is a digit written as the run it would join is written: Chinese numerals or not."""
    return _digit(ch) is not None and (ch in _CHINESE_DIGITS) == chinese


def _runs(text: str) -> Iterator[tuple[int, int, str, bool]]:
    """``(start, end, digits, ends_in_x)`` of each run of digits joined by separators; a run may end
    in an X (the check character of an identity number). A run is written in Chinese numerals or in
    digits, not both: the 三 of 张三 before 13812345678 is a name's, not a number's."""
    i, n = 0, len(text)
    while i < n:
        if _digit(text[i]) is None:
            i += 1
            continue
        chinese = text[i] in _CHINESE_DIGITS
        start, digits, end, j = i, [], i, i
        while j < n:
            d = _digit(text[j])
            if d is not None and (text[j] in _CHINESE_DIGITS) == chinese:
                digits.append(d)
                end = j = j + 1
                continue
            gap = j
            while gap < n and text[gap] in _SEPARATORS and gap - j < _MAX_GAP:
                gap += 1
            if gap > j and gap < n and _same_kind(text[gap], chinese):
                j = gap
                continue
            break
        ends_in_x = (
            end < n and text[end] in _X and not (end + 1 < n and text[end + 1].isascii() and text[end + 1].isalnum())
        )
        yield start, end + (1 if ends_in_x else 0), "".join(digits), ends_in_x
        i = max(end, i + 1)


def mask_numbers(text: str) -> str:
    """``text`` with phone, identity and other long personal numbers masked (see the module)."""
    out, last = [], 0
    for start, end, digits, ends_in_x in _runs(text):
        identity_with_x = ends_in_x and len(digits) + 1 >= 15
        if ends_in_x and not identity_with_x:
            end, ends_in_x = end - 1, False  # "13911112222x号": the x is not part of the number
        if not (identity_with_x or _personal(digits)):
            continue
        full = digits + ("X" if ends_in_x else "")
        out.append(text[last:start])
        out.append(_keep_ends(full, 3, 4) if len(full) > 7 else "*" * len(full))
        last = end
    out.append(text[last:])
    return "".join(out)


def mask_emails(text: str) -> str:
    """``zhang.san@example.com`` -> ``z***@example.com``."""
    return _EMAIL.sub(lambda m: f"{m.group(1)[0]}***@{m.group(2)}", text)


def mask_text(text: str, names: Sequence[str] = ()) -> str:
    """``text`` with e-mail addresses, identity and phone numbers and the given names masked."""
    text = unicodedata.normalize("NFC", text or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")  # invisible: zero-width, soft hyphen
    text = mask_numbers(mask_emails(text))
    for name in sorted({n.strip() for n in names if n and len(n.strip()) > 1}, key=len, reverse=True):
        # A Chinese name also with spaces, dots or dashes between its characters (赵 六, 赵·六); a
        # Latin name only as a whole word: "li" must not mask the "li" in "public".
        pattern = _NAME_GAP.join(map(re.escape, name)) if _is_cjk(name[0]) else rf"(?<!\w){re.escape(name)}(?!\w)"
        masked = mask_name(name)
        text = re.sub(pattern, masked.replace("\\", "\\\\"), text)  # the mask as written, no group references
    return text
