"""The demo is deterministic for a seed, reports progress, and only an empty database counts as
empty. (No module-wide build here: each test builds its own, smaller demo.)"""

from __future__ import annotations

import random

import pytest
from django.db import transaction
from django.test.utils import override_settings

from medunion.accounts.models import User
from medunion.core import clock
from medunion.demo.build import build_demo, database_is_empty, print_logins
from medunion.demo.places import COUNTY_POPULATION, pinyin_word, plan_townships
from medunion.network.models import Practitioner, Region, Team
from medunion.patients.identity import parse_resident_id
from medunion.patients.models import Patient

from .conftest import HASHERS

pytestmark = pytest.mark.django_db


def _snapshot(seed: int) -> tuple:
    """Build into a savepoint, read what the seed decides, roll back."""
    with transaction.atomic(), override_settings(PASSWORD_HASHERS=HASHERS):
        report = build_demo(seed=seed, patients=150)
        snapshot = (
            list(Region.objects.order_by("code").values_list("code", "name", "name_en", "population")),
            list(Practitioner.objects.order_by("licence_number").values_list("licence_number", "name", "title")),
            sorted(Team.objects.values_list("name", "kind")),
            sorted((p.id_number, p.name, p.phone, p.region_id) for p in Patient.objects.all()),
            sorted(User.objects.values_list("username", "display_name")),
            report.counts,
        )
        transaction.set_rollback(True)
    return snapshot


def test_same_seed_same_consortium_other_seed_another():
    # One clock for both builds: the demo derives birth dates (and so ID numbers) from today's date,
    # and a build on either side of midnight in Shanghai would differ by that alone.
    with clock.frozen(clock.now()):
        first = _snapshot(7)
        assert first == _snapshot(7)
        other = _snapshot(8)
    assert other[0] != first[0] and other[3] != first[3]
    assert len(first[3]) == 150 and all(parse_resident_id(n) for n, *_rest in first[3])


def test_database_is_empty_and_progress(capsys):
    assert database_is_empty()
    print_logins()
    assert "No demo account" in capsys.readouterr().out
    with override_settings(PASSWORD_HASHERS=HASHERS):
        report = build_demo(progress=True, seed=3, patients=50)
    assert not database_is_empty()
    assert "demo consortium built in" in capsys.readouterr().out
    assert report.counts["patients"] == 50 and report.counts["townships"] == 21
    assert set(report.personas) == {"village", "trainee", "township", "cardio", "breast", "radiology", "county",
                                    "coordinator", "commission", "patient", "sysadmin", "secadmin", "auditadmin"}


def test_an_account_alone_makes_the_database_non_empty():
    User.objects.create_user(username="someone", password="x" * 12, role="sysadmin")
    assert not database_is_empty()


def test_township_plans():
    plans = plan_townships(random.Random(1))
    assert len(plans) == 21 and sum(p.population for p in plans) == COUNTY_POPULATION
    assert [p.kind for p in plans].count("subdistrict") == 2 and [p.kind for p in plans].count("township") == 3
    assert len({p.code for p in plans}) == 21
    for p in plans:
        assert sum(v.population for v in p.villages) == p.population
        assert all(len(v.code) == 12 and v.code.startswith(p.code[:9]) for v in p.villages)
    names = [v.name for p in plans for v in p.villages] + [p.name for p in plans]
    assert len(names) == len(set(names))


def test_pinyin_words():
    assert pinyin_word(["xi", "an"]) == "Xi'an"
    assert pinyin_word(["wang", "jia", "gou"]) == "Wangjiagou"
    assert pinyin_word(["chang", "e"]) == "Chang'e"
