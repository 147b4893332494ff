"""The console names a unit, not its code, where people read it: the assignment's header, a
proposal's deadlines and replies, an opinion item's forwards, a resident's case, the reassignment
form (the code showed there before)."""

from __future__ import annotations

from services.gateway.console import views


def shown(template: str, lang: str, **context) -> str:
    return views._env.from_string(template).render(lang=lang, **context)


def test_a_unit_is_named_by_the_directory_in_the_pages_language_and_an_unknown_code_is_kept():
    assert shown("{{ 'transport'|unit }}", "zh-CN") == "市交通运输局"
    assert shown("{{ 'transport'|unit }}", "en") == "市交通运输局 Municipal Transport Bureau"
    assert shown("{{ 'water_x'|unit }}", "zh-CN") == "water_x"
    assert shown("{{ none|unit }}", "zh-CN") == ""


def test_the_pages_that_showed_a_units_code_name_it():
    for name in (
        "assignment.html",
        "proposal.html",
        "member_opinion.html",
        "public_case.html",
        "staff_task_forms.html",
    ):
        source = views._env.loader.get_source(views._env, f"console/{name}")[0]
        assert "|unit" in source, name
