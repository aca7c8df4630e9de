"""Practitioners: the list (search, filters, pages, a pinned query count), credentials and privileges."""

from __future__ import annotations

import re

from medunion.access.actor import system_actor
from medunion.audit.models import AuditEvent
from medunion.network import actions as net
from medunion.network.models import Licence, PracticeSite, Practitioner

from .helpers import other_coordinator, practitioner_id, url


def _names(html: str) -> list[str]:
    return re.findall(r'<a href="/network/practitioners/[0-9a-f-]+">([^<]+)</a>', html)


def test_search_by_name_and_licence_number(world, coord):
    assert _names(coord.get(url("practitioners"), {"q": "卫国"}).content.decode()) == ["张卫国"]
    assert _names(coord.get(url("practitioners"), {"q": "110610424000003"}).content.decode()) == ["赵明"]
    everyone = _names(coord.get(url("practitioners")).content.decode())
    assert sorted(everyone) == sorted(["张卫国", "李秀兰", "王建生", "赵明"])  # never 孙立 of the other consortium


def test_filters_by_organisation_specialty_and_title(world, coord):
    get = lambda **q: _names(coord.get(url("practitioners"), q).content.decode())  # noqa: E731
    assert get(organisation=str(world.orgs["tertiary"].pk)) == ["王建生"]
    assert sorted(get(specialty="general_practice")) == ["张卫国", "李秀兰"]
    assert get(title="attending") == ["赵明"]
    assert get(title="village_doctor", q="秀兰") == ["李秀兰"]
    response = coord.get(url("practitioners"), {"organisation": str(world.orgs["other"].pk)})
    assert _names(response.content.decode()) == []
    assert "Select a valid choice" in response.content.decode()


def _many(world, n: int, start: int = 0) -> None:
    system = system_actor("tests")
    for i in range(start, start + n):
        p = net.create_practitioner(acting=system, name=f"医生{i:03d}", title="resident",
                                    licence_number=f"220610424{i:06d}", organisation_id=world.orgs["county"].pk,
                                    specialties=["internal_medicine", "cardiology"])
        net.add_practice_site(acting=system, practitioner_id=p.pk, organisation_id=world.orgs["township"].pk)


def test_pagination(world, coord, settings):
    settings.MEDUNION_PAGE_SIZE = 10
    _many(world, 12)
    first = coord.get(url("practitioners"), {"q": "医生"}).content.decode()
    assert len(_names(first)) == 10 and "Page 1 of 2" in first and "q=%E5%8C%BB%E7%94%9F&amp;page=2" in first
    second = coord.get(url("practitioners"), {"q": "医生", "page": 2}).content.decode()
    assert _names(second) == ["医生010", "医生011"]


def test_the_list_query_count_does_not_grow_with_rows(world, coord, django_assert_max_num_queries,
                                                      django_assert_num_queries):
    _many(world, 3)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        assert coord.get(url("practitioners"), {"specialty": "cardiology"}).status_code == 200
    _many(world, 40, start=3)
    with django_assert_max_num_queries(12):
        response = coord.get(url("practitioners"), {"specialty": "cardiology"})
    assert len(_names(response.content.decode())) == 44
    with django_assert_num_queries(len(few)):
        coord.get(url("practitioners"), {"specialty": "cardiology"})
    # Sites at organisations outside the coordinator's consortia are never listed.
    assert "外县人民医院" not in response.content.decode()


def test_privilege_follows_training_exam_and_licence(world, coord):
    pid = practitioner_id(world, "village_doctor_a")
    page = url("practitioner", pid)

    def privilege() -> str:
        html = coord.get(page).content.decode()
        start = html.index('data-privilege="transfer_patients"')
        return html[start:html.index('aria-labelledby="sites"', start)]

    def missing() -> list[str]:
        return re.findall(r'data-missing="(\w+)"', privilege())

    assert missing() == ["training", "exam", "licence"]
    assert "Complete the consortium&#x27;s tiered-referral training" in privilege()
    assert 'href="#training">Record training' in privilege()
    consortium = str(world.consortium.pk)
    assert coord.post(page, {"form": "training", "consortium": consortium, "course": "referral",
                             "completed_on": "2026-01-05"}).status_code == 302
    assert missing() == ["exam", "licence"]
    assert coord.post(page, {"form": "exam", "consortium": consortium, "course": "referral",
                             "taken_on": "2026-01-10", "score": "52", "pass_mark": "60"}).status_code == 302
    assert missing() == ["exam", "licence"]  # a failed exam does not count
    assert coord.post(page, {"form": "exam", "consortium": consortium, "course": "referral",
                             "taken_on": "2026-01-20", "score": "81.5", "pass_mark": "60"}).status_code == 302
    assert missing() == ["licence"]
    assert coord.post(page, {"form": "licence", "number": "110610424000777", "scope": "全科",
                             "valid_from": "2025-01-01"}).status_code == 302
    assert missing() == [] and "granted" in privilege() and "not granted" not in privilege()
    licence = Licence.objects.get(practitioner_id=pid)
    assert coord.post(page, {"form": "revoke", "licence": str(licence.pk),
                             "on": "2026-01-01"}).status_code == 302
    assert missing() == ["licence"] and "not granted" in privilege()
    actions = set(AuditEvent.objects.filter(actor_id=world.users["coordinator"].pk)
                  .values_list("action", flat=True))
    assert {"network.training.record", "network.exam.record", "network.licence.record",
            "network.licence.revoke"} <= actions


def test_credential_form_errors(world, coord):
    page = url("practitioner", practitioner_id(world, "village_doctor_a"))
    response = coord.post(page, {"form": "licence", "number": "12-34", "valid_from": "2025-01-01"})
    assert response.status_code == 422 and "8 to 20 letters and digits" in response.content.decode()
    response = coord.post(page, {"form": "licence", "number": "110610424000777", "valid_from": "2025-01-01",
                                 "valid_until": "2024-01-01"})
    assert response.status_code == 422 and "The end date is before the start date" in response.content.decode()
    response = coord.post(page, {"form": "exam", "consortium": str(world.consortium.pk), "course": "referral",
                                 "taken_on": "2026-01-20", "score": "120", "pass_mark": "60"})
    assert response.status_code == 422 and "less than or equal to 100" in response.content.decode()
    response = coord.post(page, {"form": "training", "consortium": str(world.consortium.pk),
                                 "course": "referral", "completed_on": "yesterday"})
    assert response.status_code == 422 and "Enter a valid date" in response.content.decode()
    response = coord.post(page, {"form": "training", "consortium": str(world.other_consortium.pk),
                                 "course": "referral", "completed_on": "2026-01-05"})
    assert response.status_code == 422  # not one of my consortia
    assert coord.post(page, {"form": "nonsense"}).status_code == 422
    assert not Licence.objects.exists()


def test_revoking_another_practitioners_licence_through_this_page_is_404(world, coord):
    other = net.record_licence(acting=system_actor("tests"), practitioner_id=practitioner_id(world, "outsider"),
                               number="110610100000009", valid_from="2020-01-01")
    page = url("practitioner", practitioner_id(world, "village_doctor_a"))
    assert coord.post(page, {"form": "revoke", "licence": str(other.pk), "on": "2026-01-01"}).status_code == 404
    other.refresh_from_db()
    assert other.revoked_on is None


def test_add_a_practice_site(world, coord):
    pid = practitioner_id(world, "cardiologist_tertiary")
    page = url("practitioner", pid)
    response = coord.post(page, {"form": "site", "organisation": str(world.orgs["county"].pk)})
    assert response.status_code == 302
    assert PracticeSite.objects.filter(practitioner_id=pid, organisation=world.orgs["county"]).exists()
    assert world.orgs["county"].name in coord.get(page).content.decode()
    response = coord.post(page, {"form": "site", "organisation": str(world.orgs["other"].pk)})
    assert response.status_code == 422


def test_sites_in_other_consortia_stay_hidden(world, coord):
    other_coordinator(world)
    pid = practitioner_id(world, "cardiologist_tertiary")
    net.add_practice_site(acting=system_actor("tests"), practitioner_id=pid, organisation_id=world.orgs["other"].pk)
    assert "外县人民医院" not in coord.get(url("practitioner", pid)).content.decode()


def _new(world, **overrides):
    data = {"organisation": str(world.orgs["township"].pk), "name": "周海燕", "gender": "female",
            "title": "attending", "licence_number": "110610424000555", "specialties": ["general_practice", "tcm"],
            "years_independent": 6, "phone": ""}
    data.update(overrides)
    return data


def test_add_a_practitioner(world, coord):
    response = coord.post(url("practitioner_new"), _new(world))
    assert response.status_code == 302
    p = Practitioner.objects.get(licence_number="110610424000555")
    assert response["Location"] == url("practitioner", p.pk)
    assert sorted(p.specialties.values_list("specialty", flat=True)) == ["general_practice", "tcm"]
    assert p.sites.get().organisation == world.orgs["township"]
    html = coord.get(url("practitioner", p.pk)).content.decode()
    assert "周海燕" in html and "traditional Chinese medicine" in html


def test_add_practitioner_form_errors(world, coord):
    response = coord.post(url("practitioner_new"), _new(world, licence_number="V610424000001"))  # taken
    assert response.status_code == 422
    assert "A practitioner with this licence number exists already" in response.content.decode()
    response = coord.post(url("practitioner_new"), _new(world, licence_number="abc", name="", years_independent=99))
    html = response.content.decode()
    assert response.status_code == 422
    assert "8 to 20 letters and digits" in html and "This field is required" in html
    assert "less than or equal to 70" in html
    response = coord.post(url("practitioner_new"), _new(world, organisation=str(world.orgs["other"].pk)))
    assert response.status_code == 422
    assert not Practitioner.objects.filter(name="周海燕").exists()
