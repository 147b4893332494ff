"""Who a ``ztc`` command is recorded as: ZTC_OPERATOR when set, else the login name."""

from __future__ import annotations

import getpass

import click
import pytest

from services.ztc import identity


def test_the_login_name_without_ztc_operator(monkeypatch):
    monkeypatch.delenv("ZTC_OPERATOR", raising=False)
    assert identity.acting_name() == f"ztc:{getpass.getuser()}"
    assert identity.operator() == {"user": f"ztc:{getpass.getuser()}", "roles": ["operator"], "unit": None}


def test_ztc_operator_names_the_person(monkeypatch):
    monkeypatch.setenv("ZTC_OPERATOR", "运维.孙")
    assert identity.acting_name() == "ztc:运维.孙"


def test_no_login_name_still_says_ztc(monkeypatch):
    monkeypatch.delenv("ZTC_OPERATOR", raising=False)

    def nobody():
        raise KeyError("no user")

    monkeypatch.setattr(getpass, "getuser", nobody)
    assert identity.acting_name() == "ztc"


@pytest.mark.parametrize("bad", ["", "   ", "ops sun", "a" * 91, "ops\tsun", "ops\x1bsun"])
def test_a_bad_ztc_operator_is_refused(monkeypatch, bad):
    monkeypatch.setenv("ZTC_OPERATOR", bad)
    with pytest.raises(click.UsageError, match="ZTC_OPERATOR"):
        identity.acting_name()
