"""Property-based tests of what is published: phone numbers and identity numbers written with any
separators (spaces, hyphens, dots) and full-width digits, embedded in Chinese text, never survive
masking -- in the masking itself, in a published proposal (its row, what other members and the
public read, the year-end notice). E-mail addresses are masked too."""

from __future__ import annotations

import re
import tempfile
import unicodedata

from hypothesis import HealthCheck, given, settings, strategies as st

from services.intake.rules import RulebookRules
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from services.intake import operations
from shared.masking import mask_text
from services.intake.models import Base, Publication
from services.intake.reports import year_figures
from shared.db import dispose_all, get_engine, session_factory

FULL_WIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}
SEPARATORS = [" ", "-", ".", "\u3000", "\uff0d", "\u2013", "\uff0e", "\u00b7"]
CHINESE = st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=20)
PUNCTUATION = st.sampled_from(["", "，", "。", "：", "（", "）", "、", "；"])


@st.composite
def written(draw, digits: str) -> str:
    """``digits`` as a person might type them: some full-width, separators between some."""
    out = []
    for i, d in enumerate(digits):
        if i and draw(st.booleans()):
            out.append("".join(draw(st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=2))))
        out.append(FULL_WIDTH[d] if d.isdigit() and draw(st.booleans()) else d)
    return "".join(out)


MOBILES = st.builds(
    lambda second, rest: "1" + second + rest,
    st.sampled_from("3456789"),
    st.text(alphabet="0123456789", min_size=9, max_size=9),
)
ID_NUMBERS = st.builds(
    lambda body, check: body + check,
    st.text(alphabet="0123456789", min_size=17, max_size=17),
    st.sampled_from("0123456789Xx"),
)


@st.composite
def texts_with_numbers(draw):
    """Chinese text with a mobile and an identity number in it, each written its own way."""
    numbers = [draw(MOBILES), draw(ID_NUMBERS)]
    parts = [draw(CHINESE)]
    for number in draw(st.permutations(numbers)):
        parts += [draw(PUNCTUATION), draw(written(number)), draw(PUNCTUATION), draw(CHINESE)]
    return "".join(parts), numbers


def digits_of(text: str) -> str:
    """The text as a reader would read its numbers: every digit ASCII, separators gone."""
    out = []
    for ch in unicodedata.normalize("NFKC", text):
        if ch.isdigit():
            out.append(str(unicodedata.decimal(ch, ch)))
        elif ch in SEPARATORS or unicodedata.normalize("NFKC", ch) in SEPARATORS:
            continue
        else:
            out.append(ch.upper())
    return "".join(out)


def survivors(text: str, numbers: list[str]) -> list[str]:
    plain = digits_of(text)
    found = [n for n in numbers if n.upper() in plain]
    found += re.findall(r"1[3-9]\d{9}", plain) + re.findall(r"\d{17}[\dX]", plain)
    return found


@given(texts_with_numbers())
@settings(max_examples=300, deadline=None, derandomize=True)
def test_no_mobile_or_identity_number_survives_masking(case):
    text, numbers = case
    assert survivors(text, numbers), "the generated text must hold the numbers"
    masked = mask_text(text)
    assert not survivors(masked, numbers), (text, masked)


@given(
    st.from_regex(r"[a-z][a-z0-9._]{0,20}", fullmatch=True),
    st.sampled_from(["example.com", "qq.com", "gov.cn"]),
    CHINESE,
    CHINESE,
)
@settings(max_examples=100, deadline=None, derandomize=True)
def test_no_email_address_survives_masking(local, domain, before, after):
    address = f"{local}@{domain}"
    masked = mask_text(f"{before}{address}{after}")
    assert address not in masked and before in masked and after in masked


LI = {"user": "member.li", "roles": ["member"]}
OTHER = {"user": "member.wang", "roles": ["member"]}
PUBLIC = {"user": "resident", "roles": ["public"]}
STAFF = {"user": "staff.zhao", "roles": ["staff"]}


@given(texts_with_numbers(), texts_with_numbers())
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
def test_no_mobile_or_identity_number_survives_publication(situation, reply):
    """Publish a proposal whose text and reply hold numbers: the row, what another member and the
    public read, and the year-end notice hold none of them."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/intake.db"
        Base.metadata.create_all(get_engine(url))
        try:
            with session_factory(url)() as s:
                draft = {
                    "kind": "between_sessions",
                    "publish_consent": True,
                    "title": "关于候车亭的建议",
                    "situation": situation[0],
                    "analysis": "分析",
                    "suggestions": "建议",
                }
                proposal = operations.submit(SqlIntakeUnitOfWork(s), RulebookRules(), draft, LI)
                operations.record_filing(
                    SqlIntakeUnitOfWork(s),
                    RulebookRules(),
                    {"proposal_id": proposal["id"], "decision": "filed", "decided_by": "committee.he"},
                    None,
                )
                operations.publish(
                    SqlIntakeUnitOfWork(s),
                    RulebookRules(),
                    {
                        "proposal_id": proposal["id"],
                        "units": ["transport"],
                        "reply_category": "A",
                        "reply_summary": reply[0],
                    },
                    None,
                )
                s.commit()
                row = s.query(Publication).one()
                numbers = situation[1] + reply[1]
                seen = [
                    row.situation,
                    row.reply_summary,
                    str(operations.get(SqlIntakeUnitOfWork(s), proposal["number"], OTHER)),
                    str(operations.get(SqlIntakeUnitOfWork(s), proposal["number"], PUBLIC)),
                    str(operations.list_proposals(SqlIntakeUnitOfWork(s), PUBLIC, False)),
                    str(year_figures(SqlIntakeUnitOfWork(s), RulebookRules(), proposal["year"], "public", STAFF)),
                ]
                for text in seen:
                    assert not survivors(text, numbers), text
        finally:
            dispose_all()
