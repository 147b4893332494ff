"""What the public API reads of proposals (intake) and its spam limit (the gateway's table), on real
SQLite sessions: only published proposals, a page at a time; a proposer named only with consent."""

from __future__ import annotations

import pytest

from services.gateway import limits
from services.gateway.models import Base as GatewayBase
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from services.intake import operations, public
from shared.db import dispose_all, get_engine, session_factory
from shared.errors import Forbidden, InvalidInput, NotFound, TooManyRequests

from .test_operations import (
    PRESCHOOLS,
    SMITH,
    ZHANG,
    decide,
    filed,
    publish,
    session,  # noqa: F401
    sessions,  # noqa: F401
    submitted,
)

PUBLIC = {"user": "public", "roles": ["public"]}
DIRECTORY = {"李明": "李明委员", "张伟": "张伟委员"}


def names(users):
    return {user: DIRECTORY[user] for user in users if user in DIRECTORY}


def test_only_published_proposals_are_listed_and_unpublished_ones_are_not_found(session):
    draft = submitted(session)  # still with its proposer
    waiting = filed(session, text=PRESCHOOLS, principal=ZHANG)  # filed, not answered or published
    declined = filed(
        session,
        text={**PRESCHOOLS, "title": "关于社区食堂的建议"},
        publish_consent=False,
        no_publish_reason="涉及单位内部情况",
    )
    shown = filed(session, text={**PRESCHOOLS, "title": "关于口袋公园的建议"}, publish_name=True)
    publish(session, declined)
    publish(session, shown)
    page = public.list_published(SqlIntakeUnitOfWork(session), {}, PUBLIC, names)
    assert [item["number"] for item in page["items"]] == [shown["number"]] and page["total"] == 1
    for hidden in (draft, waiting, declined):
        with pytest.raises(NotFound):
            public.get_published(SqlIntakeUnitOfWork(session), hidden["number"], PUBLIC, names)
    item = public.get_published(SqlIntakeUnitOfWork(session), shown["number"], PUBLIC, names)
    assert item["reply_category"] == "B" and item["units"] == ["transport"] and item["status"] == "published"


def test_a_proposer_is_named_only_with_consent_and_co_signers_stay_masked(session):
    named = submitted(session, cosigners=["张伟"], publish_name=True)
    operations.cosign(SqlIntakeUnitOfWork(session), named["number"], {"user": "张伟", "roles": ["member"]})
    operations.settle_cosigners(SqlIntakeUnitOfWork(session), {"proposal_id": named["id"]}, None)
    unnamed = filed(session, text=PRESCHOOLS, principal=SMITH)
    decide(session, named, "filed")
    publish(session, named)
    publish(session, unnamed)
    items = {i["number"]: i for i in public.list_published(SqlIntakeUnitOfWork(session), {}, PUBLIC, names)["items"]}
    assert items[named["number"]]["proposers"] == [{"name": "李明委员", "named": True}, {"name": "张*", "named": False}]
    assert items[unnamed["number"]]["proposers"] == [{"name": "s***", "named": False}]
    assert "smith" not in str(items)


def test_a_co_signer_is_named_only_with_the_consent_given_when_co_signing(session):
    joint = submitted(session, cosigners=["张伟", "smith"])  # the initiator does not consent
    operations.cosign(
        SqlIntakeUnitOfWork(session), joint["number"], {"user": "张伟", "roles": ["member"]}, publish_name=True
    )
    confirmed = operations.cosign(
        SqlIntakeUnitOfWork(session), joint["number"], SMITH
    )  # confirmed without consent: not named
    assert [(c["user"], c["publish_name"]) for c in confirmed["cosigners"]] == [("张伟", True), ("smith", False)]
    operations.settle_cosigners(SqlIntakeUnitOfWork(session), {"proposal_id": joint["id"]}, None)
    decide(session, joint, "filed")
    publish(session, joint)
    shown = public.get_published(SqlIntakeUnitOfWork(session), joint["number"], PUBLIC, names)
    assert shown["proposers"] == [
        {"name": "李*", "named": False},
        {"name": "张伟委员", "named": True},
        {"name": "s***", "named": False},
    ]


def test_pages_are_bounded_and_only_the_public_reads_this_way(session):
    for i in range(3):
        publish(session, filed(session, text={**PRESCHOOLS, "title": f"关于第{i}处口袋公园的建议"}))
    second = public.list_published(SqlIntakeUnitOfWork(session), {"page": 2, "per_page": 2}, PUBLIC, names)
    assert (len(second["items"]), second["total"], second["page"]) == (1, 3, 2)
    for bad in ({"per_page": 51}, {"page": 0}, {"year": "soon"}):
        with pytest.raises(InvalidInput):
            public.list_published(SqlIntakeUnitOfWork(session), bad, PUBLIC, names)
    with pytest.raises(Forbidden):
        public.list_published(SqlIntakeUnitOfWork(session), {}, {"user": "member.li", "roles": ["member"]}, names)


@pytest.fixture
def gateway_session(tmp_path, skipping_clock):
    url = f"sqlite:///{tmp_path}/gateway.db"
    GatewayBase.metadata.create_all(get_engine(url))
    with session_factory(url)() as s:
        yield s
    dispose_all()


def test_the_spam_limit_refuses_an_address_over_its_limit_until_the_window_passes(gateway_session, skipping_clock):
    def raise_one(address, venue="cp_jiefang"):
        limits.take(gateway_session, [("address", address, 2), ("venue", venue, 3)], 3600)
        gateway_session.commit()

    raise_one("10.0.0.1")
    raise_one("10.0.0.1")
    with pytest.raises(TooManyRequests) as refused:
        raise_one("10.0.0.1")
    assert refused.value.status == 429 and refused.value.details["scope"] == "address"
    assert 0 < refused.value.details["retry_after_seconds"] <= 3600
    raise_one("10.0.0.2")  # the address refused did not use up the venue
    with pytest.raises(TooManyRequests) as venue_full:
        raise_one("10.0.0.3")
    assert venue_full.value.details["scope"] == "venue" and "venue" in venue_full.value.message
    raise_one("10.0.0.3", venue="cp_other")  # another venue is counted apart
    skipping_clock.advance(hours=1)
    raise_one("10.0.0.1")  # a new window


class _Request:
    def __init__(self, remote, forwarded=None):
        self.remote_addr, self.headers = remote, {"X-Forwarded-For": forwarded} if forwarded else {}


def test_the_client_address_is_the_connection_unless_proxies_are_trusted():
    assert limits.client_address(_Request("10.0.0.9", "1.2.3.4"), 0) == "10.0.0.9"
    assert limits.client_address(_Request("10.0.0.9", "6.6.6.6, 1.2.3.4"), 1) == "1.2.3.4"
    assert limits.client_address(_Request("10.0.0.9"), 1) == "10.0.0.9"
