"""The console's words: one YAML catalogue per language (``messages/<lang>.yaml``), loaded once.

A flat YAML file per language rather than gettext: the console has a few hundred short strings,
translators edit them as plain text beside the code, and nothing needs compiling (no ``.mo``
step in the build). Chinese (zh-CN) is the default; a key missing from another language falls
back to Chinese, and a key missing from both shows itself, so a gap is seen, never blank.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from shared import yamlio


DEFAULT = "zh-CN"
LANGUAGES = {"zh-CN": "中文", "en": "English"}
_DIR = Path(__file__).resolve().parent / "messages"


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    return yamlio.safe_load((_DIR / f"{lang}.yaml").read_text(encoding="utf-8")) or {}


def choose(request) -> str:
    """The language of the request: the ``ztc_lang`` cookie if it names one we have, else zh-CN."""
    wanted = request.cookies.get("ztc_lang")
    return wanted if wanted in LANGUAGES else DEFAULT


def translator(lang: str):
    """``t(key, **values)``: the text of ``key`` in ``lang`` with ``{values}`` filled in."""
    own, fallback = catalogue(lang), catalogue(DEFAULT)

    def t(key: str, **values) -> str:
        text = own.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return t
