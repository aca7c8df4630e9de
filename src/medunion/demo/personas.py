"""The demo's accounts (one persona of each kind), two break-the-glass grants waiting for the
coordinator's review, and the table of logins printed after the build."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, get_hashers_by_algorithm
from django.test.utils import override_settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from medunion.access.actions import break_glass
from medunion.access.actor import actor_for, system_actor
from medunion.accounts.actions import create_account
from medunion.accounts.models import Role, User
from medunion.patients.models import Sex

from .names import person_name
from .places import COUNTY
from .state import DemoState

PASSWORD = "Demo-2026-medunion"
URL = "http://127.0.0.1:8000"

# (user name, who, what to try)
LOGINS: list[tuple[str, Any, Any]] = [
    ("village", gettext_lazy("village doctor at a village clinic"),
     gettext_lazy("register a patient by ID number on a phone, search, see the patient's care team; ask a "
                  "specialist with a photo, answer the cardiologist's question, confirm and rate an answer; refer a "
                  "patient up through the green channel, the follow-ups due today of a patient sent back down")),
    ("township", gettext_lazy("GP at a township health centre, leads a family-doctor team"),
     gettext_lazy("the patients of the team's village doctors; referrals sent, one whose outcome is overdue; "
                  "examinations (/examinations): a critical finding on a CT head to acknowledge, an examination being "
                  "prepared (upload the images, send it for reading), the team's signed reports")),
    ("cardio", gettext_lazy("cardiologist at the tertiary hospital"),
     gettext_lazy("the consultation queues (pool, overdue, mine): claim, ask for information, answer; sees "
                  "only patients they are related to; break-the-glass with a reason; the referral inbox: an urgent "
                  "green-channel referral to accept with a bed")),
    ("breast", gettext_lazy("breast surgeon, breast MDT, breast-disease alliance"),
     gettext_lazy("the alliance, its teams and members; a new referral in the breast department's inbox")),
    ("trainee", gettext_lazy("village doctor who did the referral training but has not passed the exam"),
     gettext_lazy("try to refer a patient (/referrals/new): refused, the missing exam named with how to get it")),
    ("radiology", gettext_lazy("radiologist at the imaging hub"),
     gettext_lazy("the reading worklist (/reading): an emergency CT head (30 slices) from a township health "
                  "centre, an urgent ultrasound and a routine chest DR — claim, scroll, window, write and sign; a CT "
                  "being read with a draft report; a colleague's report awaiting a second read; the remote-reading "
                  "teams, the breast MDT")),
    ("county", gettext_lazy("emergency physician at the county hospital"),
     gettext_lazy("my patients: one had a CT head read at the imaging hub a week ago — request a new CT head for "
                  "them (/examinations/new) and the recognised report is shown first: use it (an avoided repeat) "
                  "or give the reason")),
    ("coordinator", gettext_lazy("coordinator of the county medical community and the breast alliance"),
     gettext_lazy("network pages, import practitioners, credentials and privileges, audit search, "
                  "break-the-glass reviews, overdue consultations and response targets; referral figures, "
                  "green-channel capacity and the referral clock; reading routes, diagnosis turnaround and "
                  "avoided repeats")),
    ("commission", gettext_lazy("county health-commission viewer"),
     gettext_lazy("figures for the county (consultations, referrals up and down), no patient data")),
    ("patient", gettext_lazy("a resident registered by the village doctor"),
     gettext_lazy("own record, check-in QR code, who accessed my record, the conversation with the doctors; "
                  "my referral: the appointment, where to go, what to bring, the printable slip; my examination "
                  "reports (/me/reports: an ECG this morning, a chest DR)")),
    ("sysadmin", gettext_lazy("system administrator"), gettext_lazy("platform settings")),
    ("secadmin", gettext_lazy("security administrator"), gettext_lazy("accounts")),
    ("auditadmin", gettext_lazy("audit administrator"), gettext_lazy("the audit log")),
]


class DemoPasswordHasher(PBKDF2PasswordHasher):
    """PBKDF2 with few iterations, used only while the demo creates its accounts, whose shared
    password is published anyway. Hashing it with Argon2 would take most of the build's time;
    Django re-hashes it with the configured hasher at each account's first login, as it does
    with any outdated hash."""

    iterations = 1_000


@contextmanager
def _quick_hashing() -> Iterator[None]:
    if "pbkdf2_sha256" not in get_hashers_by_algorithm():  # the login could not verify such a hash
        yield
        return
    dotted = f"{DemoPasswordHasher.__module__}.{DemoPasswordHasher.__qualname__}"
    with override_settings(PASSWORD_HASHERS=[dotted, *settings.PASSWORD_HASHERS]):
        yield


def build_accounts(state: DemoState) -> None:
    with _quick_hashing():
        _build_accounts(state)


def _build_accounts(state: DemoState) -> None:
    system = system_actor("demo")
    users: dict[str, User] = {}
    for key in ("village", "township", "cardio", "breast", "radiology"):
        p = state.personas[key]
        users[key] = create_account(acting=system, username=key, password=PASSWORD, role=Role.PRACTITIONER,
                                    display_name=p.name, practitioner_id=p.pk)
    county = state.specialists.get(("county", "EMER"), [])[1:2]  # not one the referrals' history acts as
    if county:
        p = county[0].practitioner
        users["county"] = create_account(acting=system, username="county", password=PASSWORD,
                                         role=Role.PRACTITIONER, display_name=p.name, practitioner_id=p.pk)
    trainee = _colleague_lacking_exam(users["village"])
    if trainee is not None:
        users["trainee"] = create_account(acting=system, username="trainee", password=PASSWORD,
                                          role=Role.PRACTITIONER, display_name=trainee.name,
                                          practitioner_id=trainee.pk)
    c = state.consortia
    users["coordinator"] = create_account(
        acting=system, username="coordinator", password=PASSWORD, role=Role.COORDINATOR,
        display_name=person_name(state.rng, False, 1980), consortium_ids=[c["community"].pk, c["alliance"].pk])
    users["commission"] = create_account(acting=system, username="commission", password=PASSWORD,
                                         role=Role.COMMISSION, display_name=f"{COUNTY[1]}卫生健康局",
                                         region_code=COUNTY[0])
    assert state.demo_patient is not None
    users["patient"] = create_account(acting=system, username="patient", password=PASSWORD, role=Role.PATIENT,
                                      display_name=state.demo_patient.name, patient_id=state.demo_patient.pk)
    for role, display in ((Role.SYSADMIN, "系统管理员"), (Role.SECADMIN, "安全管理员"), (Role.AUDITADMIN, "审计管理员")):
        users[role] = create_account(acting=system, username=role, password=PASSWORD, role=role,
                                     display_name=display)
    state.users = users
    state.counts["accounts"] = len(users)


def build_break_glass(state: DemoState) -> None:
    """Two emergency accesses outside the clinicians' relationships, waiting for review."""
    users, home = state.users, state.townships[0].code
    elsewhere = [p for p in state.patients if p.region_id and not p.region_id.startswith(home[:9])]
    woman = next((p for p in elsewhere
                  if p.sex == Sex.FEMALE and 35 <= state.today.year - p.birth_date.year <= 70), None)
    elder = next((p for p in elsewhere if state.today.year - p.birth_date.year >= 70), None)
    grants = [
        ("breast", woman, "外院急诊转来的乳腺肿物出血患者，需立即查看既往乳腺超声和钼靶结果以决定是否急诊手术"),
        ("township", elder, "患者在本院门诊晕厥，签约家庭医生联系不上，需查阅既往病史和长期用药"),
    ]
    for username, patient, reason in grants:
        if patient is not None:  # a very small demo may have no such patient
            break_glass(acting=actor_for(users[username]), patient_id=patient.pk, reason=reason)
            state.counts["break-the-glass grants"] += 1


# --- the table of logins ----------------------------------------------------------------------

def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _who(users: dict[str, User], sites: dict[Any, str]) -> dict[str, str]:
    out = {}
    for username, user in users.items():
        place = sites.get(user.practitioner_id, "") if user.practitioner_id else ""
        out[username] = " · ".join(x for x in (user.display_name, place) if x and x != username)
    return out


def _lacking_exam(village: User | None) -> str:
    """The name of a colleague at the village doctor's clinic who lacks only the exam."""
    colleague = _colleague_lacking_exam(village)
    return colleague.name if colleague is not None else ""


def _colleague_lacking_exam(village: User | None) -> Any:
    """A colleague at the village doctor's clinic who lacks only the exam (or None)."""
    from medunion.network.models import PracticeSite
    from medunion.network.queries import privilege_status

    if village is None or not village.practitioner_id:
        return None
    site = PracticeSite.objects.filter(practitioner_id=village.practitioner_id, primary=True).first()
    consortium = site.organisation.memberships.values_list("consortium_id", flat=True).first() if site else None
    if site is None or consortium is None:
        return None
    colleagues = PracticeSite.objects.filter(organisation_id=site.organisation_id).exclude(
        practitioner_id=village.practitioner_id).select_related("practitioner")
    for other in colleagues:
        if privilege_status(other.practitioner_id, consortium, "transfer_patients").missing == ["exam"]:
            return other.practitioner
    return None


def print_logins(out: Any = None) -> None:
    """Print the demo logins (user name, who, what to try), the password and the address."""
    from medunion.network.models import PracticeSite

    out = out or sys.stdout
    users = {u.username: u for u in User.objects.filter(username__in=[u for u, _w, _t in LOGINS])}
    if not users:
        out.write(_("No demo account exists in this database.") + "\n")
        return
    sites = dict(PracticeSite.objects.filter(practitioner_id__in=[u.practitioner_id for u in users.values()],
                                             primary=True).values_list("practitioner_id", "organisation__name"))
    names = _who(users, sites)
    width = max(_width(u) for u in users) + 2
    lines = ["", _("Demo logins — open %(url)s") % {"url": URL},
             _("Password for every demo account: %(password)s") % {"password": PASSWORD}, ""]
    for username, who, try_ in LOGINS:
        if username not in users:
            continue
        lines.append(_pad(username, width) + str(who) + (f" — {names[username]}" if names.get(username) else ""))
        lines.append(" " * width + _("try: %(what)s") % {"what": try_})
    lacking = "" if "trainee" in users else _lacking_exam(users.get("village"))
    if lacking:
        lines += ["", _("%(name)s, a colleague of the village doctor, has done the referral training but not "
                        "passed the exam: the privilege pages explain what is missing.") % {"name": lacking}]
    if settings.MEDUNION_DEMO:
        lines.append(_("The demo relaxes the second factor: coordinators and administrators sign in without one."))
    else:
        lines.append(_("The demo relaxes the second factor only with MEDUNION_DEMO=1 (make run sets it); "
                       "otherwise coordinators and administrators set up an authenticator app at first sign-in."))
    out.write("\n".join(lines) + "\n\n")
