"""The province's residents: patients with valid resident ID numbers (GB 11643 check digit) of
their county, registered at their village clinic by one of its doctors, with the doctor and the
village's family-doctor team in their care team; sensitive columns encrypted and looked up by
keyed hashes exactly as ``patients.actions`` writes them. Some of them get a patient account.

A patient's id is a function of its number (``patient_id``): nothing per patient is kept in
memory but its village and registering doctor (two integer arrays)."""

from __future__ import annotations

import bisect
import datetime as dt
import uuid
from itertools import accumulate

from medunion.accounts.models import User
from medunion.audit.models import Verb
from medunion.patients.actions import id_hash, phone_hash
from medunion.patients.identity import make_resident_id
from medunion.patients.models import CareRole, CareTeamMember, Patient, Sex

from ..names import SURNAMES, given_name
from ..residents import AGE_BANDS
from .bulk import SYSTEM, ActorRow, encrypt
from .state import Gen

_SURNAMES = [s for s, _w in SURNAMES]
_SURNAME_CUM = list(accumulate(w for _s, w in SURNAMES))
REGISTRATION_DAYS = 5 * 365  # patients were registered over the last five years
_MOBILE = ["133", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159", "177", "180", "182",
           "183", "187", "188", "189", "199"]


def patient_at(gen: Gen, i: int) -> dt.datetime:
    n = gen.targets["patients"]
    return gen.now - dt.timedelta(days=1 + REGISTRATION_DAYS * (n - i) / max(n, 1))


def patient_id(gen: Gen, i: int) -> uuid.UUID:
    return gen.ids.make("patient", i, patient_at(gen, i))


def login_patients(gen: Gen) -> list[int]:
    """Which patients get an account: evenly spread over the population."""
    n, k = gen.targets["patients"], min(gen.targets["patient_logins"], gen.targets["patients"])
    if not k:
        return []
    step = n // k
    return [j * step + step // 2 for j in range(k)]


def build_patients(gen: Gen) -> None:
    rng = gen.fork("patients")
    n = gen.targets["patients"]
    villages = gen.villages
    cum = list(accumulate(v.population for v in villages))
    bands, band_cum = [b for b, _w in AGE_BANDS], list(accumulate(w for _b, w in AGE_BANDS))
    logins = set(login_patients(gen))
    names: dict[int, str] = {}
    numbers: set[int] = set()
    actors: dict[int, ActorRow] = {}
    care = 0
    for i in range(n):
        vi = bisect.bisect_right(cum, rng.random() * cum[-1])
        v = villages[vi]
        t = gen.townships[v.township]
        county = gen.counties[t.county]
        doctor = rng.choice(v.doctors) if v.doctors else (t.gps[0] if t.gps else 0)
        gen.patient_village.append(vi)
        gen.patient_doctor.append(doctor)
        low, high = bands[bisect.bisect_right(band_cum, rng.random() * band_cum[-1])]
        age = rng.randint(low, high)
        male = rng.random() < 0.5
        birth = gen.now.date() - dt.timedelta(days=int(age * 365.25) + rng.randint(1, 364))
        number = make_resident_id(county.code[:6], birth, rng.randrange(1000), male)
        while int(number[:17]) in numbers:
            number = make_resident_id(county.code[:6], birth, rng.randrange(1000), male)
        numbers.add(int(number[:17]))
        name = _SURNAMES[bisect.bisect_right(_SURNAME_CUM, rng.random() * _SURNAME_CUM[-1])] + \
            given_name(rng, male, birth.year)
        if i in logins:
            names[i] = name
        phone = f"{rng.choice(_MOBILE)}{rng.randrange(10**8):08d}" if rng.random() < 0.9 else ""
        at = patient_at(gen, i)
        pid = gen.ids.make("patient", i, at)
        org = gen.orgs[v.org].id
        doc = gen.clinicians[doctor]
        gen.sink.add(Patient, {
            "id": pid, "created_at": at, "name": name, "sex": Sex.MALE if male else Sex.FEMALE, "birth_date": birth,
            "id_number": encrypt(Patient, "id_number", number), "id_number_hash": id_hash(number),
            "id_number_last4": number[-4:], "phone": encrypt(Patient, "phone", phone) if phone else "",
            "phone_hash": phone_hash(phone) if phone else "", "region_id": v.code,
            "address": encrypt(Patient, "address", f"{county.name}{t.name}{v.name}{rng.randint(1, 12)}组"
                                                   f"{rng.randint(1, 80)}号"),
            "registered_at_id": org, "registered_by_id": doc.id, "updated_at": at})
        gen.sink.add(CareTeamMember, {"id": gen.ids.make("care", care, at), "created_at": at, "patient_id": pid,
                                      "practitioner_id": doc.id, "role": CareRole.REGISTERING,
                                      "source_type": "registration", "since": at})
        care += 1
        if v.team is not None:
            gen.sink.add(CareTeamMember, {"id": gen.ids.make("care", care, at), "created_at": at, "patient_id": pid,
                                          "team_id": v.team, "role": CareRole.FAMILY_DOCTOR, "source_type": "contract",
                                          "since": at})
            care += 1
        actor = actors.get(doctor)
        if actor is None:
            actor = actors[doctor] = doc.actor()
        gen.audit.add(at, actor, "patient.register", Verb.CREATE, object_type="patients.patient", object_id=pid,
                      patient_id=pid)
    gen.patient_names = names
    gen.care_serial = care
    gen.counts["patients"] = n
    gen.counts["care-team members"] = care


def build_patient_accounts(gen: Gen) -> None:
    at = gen.days_ago(30)
    for j, i in enumerate(login_patients(gen)):
        uid = gen.ids.make("user", len(gen.clinicians) + j, at)
        gen.patient_users[i] = uid
        gen.sink.add(User, {"id": uid, "password": gen.password_hash, "username": f"pt{j + 1:06d}",
                            "is_superuser": False, "is_staff": False, "is_active": True, "date_joined": at,
                            "role": "patient", "display_name": gen.patient_names.get(i, ""),
                            "patient_id": patient_id(gen, i)})
        gen.audit.add(at, SYSTEM, "account.create", Verb.CREATE, object_type="accounts.user", object_id=uid,
                      detail={"role": "patient"})
    gen.counts["patient accounts"] = len(gen.patient_users)
