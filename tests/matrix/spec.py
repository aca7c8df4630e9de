"""The access matrix: every endpoint of every surface, and who may use it.

Each endpoint names its audience: the personas that get through (`ok`), the ones that may see the
object but not do this (`forbidden`, 403), and everyone else signed in gets 404 exactly as for
something that does not exist. Anonymous visitors are sent to sign in (pages) or get 401 (API,
FHIR) unless the endpoint is public. `tests/matrix/test_access_matrix.py` checks every cell and
that no endpoint is missing from this table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.world import PASSWORD

CARE = {"village_doctor_a", "consult_specialist"}  # in patient_a's care team (registration; a consultation)
GLASS = {"hub_radiologist"}  # break-the-glass grant on patient_a
QX_CLINICIANS = {"village_doctor_a", "village_doctor_b", "hub_radiologist", "cardiologist_tertiary",
                 "consult_specialist"}
CLINICIANS = QX_CLINICIANS | {"outsider"}
COORD = {"coordinator"}
COMMISSION = {"commission_viewer"}
PATIENT = {"patient_a"}
SYSADMIN, SECADMIN, AUDITADMIN = {"sysadmin"}, {"secadmin"}, {"auditadmin"}
SIGNED_IN = CLINICIANS | COORD | COMMISSION | PATIENT | SYSADMIN | SECADMIN | AUDITADMIN
NETWORK_READERS = CLINICIANS | COORD | COMMISSION | SECADMIN


@dataclass(frozen=True)
class Endpoint:
    surface: str  # page, api, fhir, admin
    method: str
    path: str  # with {placeholders} filled from the matrix world's ids
    ok: frozenset[str]
    forbidden: frozenset[str] = frozenset()
    body: Any = None
    form: bool = False  # a form post (pages) rather than JSON
    public: bool = False
    # A read of patient_a's record: whoever gets through leaves exactly one audit row about the
    # patient; whoever is refused leaves no successful one (at most one "denied").
    reads_patient: bool = False

    @property
    def key(self) -> str:
        return f"{self.surface} {self.method.upper()} {self.path}"


def E(surface: str, method: str, path: str, ok: set[str], forbidden: set[str] | None = None, **kw: Any) -> Endpoint:
    return Endpoint(surface, method, path, frozenset(ok), frozenset(forbidden or ()), **kw)


P = "/patients/{patient}"
A = "/api/v1"
PAGES = [
    E("page", "get", "/", SIGNED_IN),
    E("page", "get", "/login", SIGNED_IN, public=True),
    E("page", "get", "/account", SIGNED_IN),
    E("page", "get", "/account/mfa", SIGNED_IN),
    E("page", "post", "/logout", SIGNED_IN, form=True, public=True),
    E("page", "get", "/patients?q=陈", CLINICIANS),
    E("page", "get", "/patients/new", CLINICIANS),
    E("page", "post", "/patients/break-glass", CLINICIANS, form=True,
      body={"id_number": "{patient_id_number}", "reason": "Unconscious at the clinic, no relatives"}),
    E("page", "get", P, CARE | GLASS, reads_patient=True),
    E("page", "get", P + "/edit", CARE | GLASS, reads_patient=True),
    E("page", "post", P + "/consents", CARE | GLASS, form=True, body={"scope": "referral", "permit": "1"}),
    E("page", "post", P + "/consents/{consent}/revoke", CARE | GLASS, form=True),
    # who looks after the patient is not changed under break-the-glass: it would outlast the grant
    E("page", "post", P + "/care-team", CARE, GLASS, form=True, body={"team": "{team}"}),
    E("page", "post", P + "/qr", CARE | GLASS | PATIENT, form=True),
    E("page", "post", P + "/qr/revoke", CARE | GLASS | PATIENT, form=True),
    E("page", "get", "/c/{qr}", CARE | GLASS),
    E("page", "get", "/me/access-log", PATIENT),
    E("page", "get", "/network/", COORD),
    E("page", "get", "/network/organisations/new", COORD),
    E("page", "get", "/network/organisations/{org}", COORD),
    E("page", "get", "/network/practitioners/", COORD),
    E("page", "get", "/network/practitioners/new", COORD),
    E("page", "get", "/network/practitioners/{practitioner}", COORD),
    E("page", "get", "/network/teams/", COORD),
    E("page", "get", "/network/teams/{team}", COORD),
    E("page", "get", "/network/import/", COORD),
    E("page", "get", "/network/import/{job}", COORD),
    E("page", "get", "/network/import/{job}/status", COORD),
    E("page", "get", "/network/audit", COORD | AUDITADMIN),
    E("page", "get", "/network/audit/export", AUDITADMIN),
    E("page", "post", "/network/audit/verify", AUDITADMIN, form=True),
    E("page", "get", "/network/break-glass/", COORD),
    E("page", "post", "/network/break-glass/{grant}/review", COORD, form=True, body={"note": "seen"}),
]

API = [
    E("api", "post", A + "/auth/token", set(), public=True, body={"username": "village_doctor_a", "password": PASSWORD}),
    E("api", "delete", A + "/auth/token", SIGNED_IN),
    E("api", "get", A + "/auth/me", SIGNED_IN),
    E("api", "get", A + "/network/regions", NETWORK_READERS),
    E("api", "get", A + "/network/consortia", NETWORK_READERS),
    E("api", "get", A + "/network/consortia/{consortium}", QX_CLINICIANS | COORD | COMMISSION | SECADMIN),
    E("api", "get", A + "/network/organisations", NETWORK_READERS),
    E("api", "post", A + "/network/organisations", COORD, QX_CLINICIANS | COMMISSION | SECADMIN,
      body={"consortium_id": "{consortium}", "code": "V099", "name": "南村卫生室", "tier": "village_clinic",
            "region_code": "{region}"}),
    E("api", "get", A + "/network/organisations/{org}", QX_CLINICIANS | COORD | COMMISSION | SECADMIN),
    E("api", "put", A + "/network/organisations/{org}/departments/{department_code}", COORD,
      QX_CLINICIANS | COMMISSION | SECADMIN, body={"name": "肾内科", "beds": 22, "daily_slots": 30}),
    E("api", "get", A + "/network/practitioners", NETWORK_READERS),
    E("api", "post", A + "/network/practitioners", COORD, QX_CLINICIANS | COMMISSION | SECADMIN,
      body={"organisation_id": "{org}", "name": "新医生", "title": "attending", "licence_number": "110610424000777"}),
    E("api", "get", A + "/network/practitioners/{practitioner}", QX_CLINICIANS | COORD | COMMISSION | SECADMIN),
    E("api", "get", A + "/network/practitioners/{practitioner}/privileges",
      QX_CLINICIANS | COORD | COMMISSION | SECADMIN),
    E("api", "post", A + "/network/practitioners/{practitioner}/sites", COORD, QX_CLINICIANS | COMMISSION | SECADMIN,
      body={"organisation_id": "{org}"}),
    E("api", "post", A + "/network/practitioners/{practitioner}/trainings", COORD,
      QX_CLINICIANS | COMMISSION | SECADMIN, body={"consortium_id": "{consortium}", "completed_on": "2026-01-10"}),
    E("api", "post", A + "/network/practitioners/{practitioner}/exams", COORD, QX_CLINICIANS | COMMISSION | SECADMIN,
      body={"consortium_id": "{consortium}", "taken_on": "2026-01-20", "score": 88}),
    E("api", "post", A + "/network/practitioners/{practitioner}/licences", COORD,
      QX_CLINICIANS | COMMISSION | SECADMIN, body={"number": "V610424009999", "valid_from": "2026-01-01"}),
    E("api", "post", A + "/network/licences/{licence}/revoke", COORD, QX_CLINICIANS | COMMISSION | SECADMIN,
      body={"on": "2026-06-01"}),
    E("api", "get", A + "/network/teams", NETWORK_READERS),
    E("api", "post", A + "/network/teams", COORD, QX_CLINICIANS | COMMISSION | SECADMIN,
      body={"consortium_id": "{consortium}", "name": "心内科专科组", "kind": "specialty"}),
    E("api", "get", A + "/network/teams/{team}", QX_CLINICIANS | COORD | COMMISSION | SECADMIN),
    E("api", "put", A + "/network/teams/{team}/members/{practitioner}", COORD, QX_CLINICIANS | COMMISSION | SECADMIN,
      body={"role": "lead"}),
    E("api", "delete", A + "/network/teams/{team}/members/{practitioner}", COORD,
      QX_CLINICIANS | COMMISSION | SECADMIN),
    E("api", "get", A + "/imports", COORD),
    E("api", "get", A + "/imports/{job}", COORD),
    E("api", "post", A + "/imports", COORD, QX_CLINICIANS | COMMISSION | SECADMIN, form=True,
      body={"consortium_id": "{consortium}", "file": "@staff.csv"}),
    E("api", "get", A + "/patients?q=陈", CLINICIANS | PATIENT),
    E("api", "post", A + "/patients", CLINICIANS, body={"name": "新患者", "sex": "female", "birth_date": "2001-02-03"}),
    E("api", "post", A + "/patients/check-in", CARE | GLASS | PATIENT, body={"token": "{qr}"}),
    E("api", "get", A + P, CARE | GLASS | PATIENT, reads_patient=True),
    E("api", "put", A + P, CARE | GLASS, PATIENT, body={"name": "陈桂芳", "phone": "13800000002"}),
    E("api", "get", A + P + "/care-team", CARE | GLASS | PATIENT, reads_patient=True),
    E("api", "post", A + P + "/care-team", CARE, GLASS | PATIENT, body={"role": "family_doctor", "team_id": "{team}"}),
    E("api", "get", A + P + "/consents", CARE | GLASS | PATIENT, reads_patient=True),
    E("api", "post", A + P + "/consents", CARE | GLASS, PATIENT, body={"scope": "referral"}),
    E("api", "post", A + P + "/consents/{consent}/revoke", CARE | GLASS, PATIENT),
    E("api", "post", A + P + "/qr", CARE | GLASS | PATIENT),
    E("api", "delete", A + P + "/qr", CARE | GLASS | PATIENT),
    E("api", "get", A + P + "/access-log", PATIENT, CARE | GLASS),
    E("api", "get", A + "/audit/events", COORD | AUDITADMIN),
    E("api", "get", A + "/audit/verify", AUDITADMIN),
    E("api", "get", A + "/audit/export.csv", AUDITADMIN),
    E("api", "post", A + "/access/break-glass", CLINICIANS,
      body={"patient_id": "{patient}", "reason": "Unconscious at the clinic, no relatives"}),
    E("api", "get", A + "/access/break-glass/reviews", COORD),
    E("api", "post", A + "/access/break-glass/reviews/{grant}", COORD, body={"note": "seen"}),
    E("api", "get", A + "/accounts", SECADMIN),
    E("api", "post", A + "/accounts", SECADMIN,
      body={"username": "new_commission", "password": "Strong-Password-2026!", "role": "commission",
            "region_code": "610424000000"}),
    E("api", "get", A + "/accounts/me/tokens", SIGNED_IN),
    E("api", "delete", A + "/accounts/me/tokens/{token}", {"village_doctor_a"}),  # the token's owner
    E("api", "get", A + "/accounts/{user}", SECADMIN),
    E("api", "put", A + "/accounts/{user}/role", SECADMIN, body={"role": "practitioner", "practitioner_id": "{practitioner}"}),
    E("api", "post", A + "/accounts/{user}/deactivate", SECADMIN),
    E("api", "post", A + "/accounts/{user}/activate", SECADMIN),
    E("api", "post", A + "/accounts/{user}/reset-mfa", SECADMIN),
    E("api", "post", A + "/accounts/{user}/unlock", SECADMIN),
    E("api", "get", A + "/settings", SYSADMIN),
    E("api", "get", A + "/settings/{setting}", SYSADMIN),
    E("api", "put", A + "/settings/{setting}", SYSADMIN, body={"value": "0912-1234567"}),
    E("api", "delete", A + "/settings/{setting}", SYSADMIN),
]

F = "/fhir"
FHIR = [
    E("fhir", "get", F + "/metadata", set(), public=True),
    E("fhir", "get", F + "/Organization", NETWORK_READERS),
    E("fhir", "get", F + "/Organization/{org}", QX_CLINICIANS | COORD | COMMISSION | SECADMIN),
    E("fhir", "get", F + "/Location", NETWORK_READERS),
    E("fhir", "get", F + "/Location/{department}", QX_CLINICIANS | COORD | COMMISSION | SECADMIN),
    E("fhir", "get", F + "/Practitioner", NETWORK_READERS),
    E("fhir", "get", F + "/Practitioner/{practitioner}", QX_CLINICIANS | COORD | COMMISSION | SECADMIN),
    E("fhir", "get", F + "/PractitionerRole", NETWORK_READERS),
    E("fhir", "get", F + "/PractitionerRole/{site}", QX_CLINICIANS | COORD | COMMISSION | SECADMIN),
    E("fhir", "get", F + "/CareTeam", NETWORK_READERS | PATIENT),  # a patient: their own care team
    E("fhir", "get", F + "/CareTeam/{team}", QX_CLINICIANS | COORD | COMMISSION | SECADMIN),
    E("fhir", "get", F + "/CareTeam/pt-{patient}", CARE | GLASS | PATIENT, reads_patient=True),
    E("fhir", "get", F + "/Patient", CLINICIANS | PATIENT),  # a patient finds only themselves
    E("fhir", "get", F + "/Patient/{patient}", CARE | GLASS | PATIENT, reads_patient=True),
    E("fhir", "get", F + "/Consent", CLINICIANS | PATIENT),
    E("fhir", "get", F + "/Consent/{consent}", CARE | GLASS | PATIENT, reads_patient=True),
    E("fhir", "get", F + "/AuditEvent", COORD | AUDITADMIN | PATIENT),
    E("fhir", "get", F + "/AuditEvent/{event}", COORD | AUDITADMIN | PATIENT),
]

ADMIN_NETWORK = ["network/organisation", "network/consortium", "network/practitioner", "network/team",
                 "network/training", "network/examresult", "network/licence", "network/region"]
ADMIN = [
    E("admin", "get", "/admin/", COORD | SYSADMIN | SECADMIN | AUDITADMIN),
    *[E("admin", "get", f"/admin/{m}/", COORD | SECADMIN) for m in ADMIN_NETWORK],
    E("admin", "get", "/admin/network/organisation/{org}/change/", COORD | SECADMIN),
    E("admin", "get", "/admin/accounts/user/", SECADMIN),
    E("admin", "get", "/admin/accounts/user/{user}/change/", SECADMIN),
    E("admin", "get", "/admin/accounts/apitoken/", SECADMIN),
    E("admin", "get", "/admin/accounts/platformsetting/", SYSADMIN),
    E("admin", "get", "/admin/audit/auditevent/", COORD | AUDITADMIN),
    E("admin", "get", "/admin/access/breakglassgrant/", COORD),
]

def _more() -> list[Endpoint]:
    """The rows of later areas, each in its own module (spec_<area>.py, a list named ENDPOINTS)."""
    import importlib
    import pkgutil

    import tests.matrix as package

    rows: list[Endpoint] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("spec_"):
            rows += importlib.import_module(f"tests.matrix.{info.name}").ENDPOINTS
    return rows


ENDPOINTS = PAGES + API + FHIR + ADMIN + _more()
