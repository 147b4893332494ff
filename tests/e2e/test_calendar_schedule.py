"""A year without an official holiday schedule, end to end: a working-day deadline reaching 2027 is
counted provisionally (no incident), and when an operator enters the schedule with
``ztc calendar add`` the running supervision service counts it again, records the change and tells
the unit and the staff. The services' shared clock is set to 2027-02-01, so this module runs its
own system. The schedule entered is the stand-in in tests/data, not the State Council's notice."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from shared.calendar import CHINA_TZ
from shared.config import ROOT
from tests.support import settings_env, wait_for

from .test_proposal_lifecycle import Api, file_it, submit

# The services' clock is set to 2027-02-01 and the 2027 schedule entered, and no incident may be
# open anywhere: a system of its own.
pytestmark = pytest.mark.system("calendar")

STAND_IN_2027 = Path(__file__).parent.parent / "data" / "calendar-2027-STAND-IN.yaml"


def _objection(api, number):
    response = api("staff", "GET", f"/api/proposals/{number}/deadlines")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    rows = [d for d in response.json()["deadlines"] if d["rule"] == "objection_window" and d["live"]]
    return rows[0] if rows else None


def _notices(api, who, number):
    return [
        n
        for n in api(who, "GET", "/api/notifications", expect=200).json()
        if n["subject"] == number and n["kind"] == "deadline_recalculated"
    ]


def test_a_provisional_2027_deadline_is_recomputed_when_the_schedule_is_entered(running, service_clock, e2e_settings):
    api = Api(*running)
    # Monday 2027-02-01, four days before the Spring Festival, in every service.
    service_clock.advance((datetime(2027, 2, 1, 10, tzinfo=CHINA_TZ) - service_clock.now()).total_seconds())
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["transport"]})

    objection = wait_for(lambda: _objection(api, number), timeout=60, message="the objection window")
    assert (objection["due"], objection["provisional"]) == ("2027-02-10", True)
    assert objection["calendar"]["provisional_years"] == [2027]
    assert "PROVISIONAL" in objection["explanation"]
    assert api("operator", "GET", "/api/incidents", expect=200).json()["items"] == []

    service_clock.advance(3600)
    env = dict(os.environ, **settings_env(e2e_settings))
    entered = subprocess.run(
        [sys.executable, "-m", "services.ztc.cli", "calendar", "add", "2027", str(STAND_IN_2027)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert entered.returncode == 0, entered.stdout + entered.stderr
    assert f"proposal {number} objection_window (transport): 2027-02-10 -> 2027-02-15" in entered.stdout

    moved = _objection(api, number)
    assert (moved["due"], moved["original_due"], moved["provisional"]) == ("2027-02-15", "2027-02-10", False)
    assert [(c["kind"], c["old_due"], c["new_due"]) for c in moved["changes"]] == [
        ("recalculation", "2027-02-10", "2027-02-15")
    ]
    assert "Recalculation on 2027-02-01" in moved["explanation"]

    [told] = wait_for(lambda: _notices(api, "unit", number), timeout=60, message="the unit's notice")
    assert told["recipient"] == "unit:transport" and "2027-02-15" in told["title"]
    assert wait_for(lambda: _notices(api, "staff", number), timeout=60, message="the staff's notice")
    shown = subprocess.run(
        [sys.executable, "-m", "services.ztc.cli", "calendar", "show", "2027"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0 and shown.stdout.startswith("2027: official (2027.yaml, complete: true)")
