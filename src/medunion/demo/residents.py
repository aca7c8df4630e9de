"""Build step for the residents: patients with valid synthetic resident ID numbers, registered at
their village clinic, with the registering village doctor and the family-doctor team in their care
team, and one ``patient.register`` audit row each."""

from __future__ import annotations

import datetime as dt

from medunion.access.actor import system_actor
from medunion.audit.actions import Entry, record_many
from medunion.audit.models import Verb
from medunion.patients.actions import id_hash, phone_hash
from medunion.patients.identity import make_resident_id
from medunion.patients.models import CareRole, CareTeamMember, Patient, Sex

from .names import person_name
from .places import COUNTY, COUNTY6, TownshipPlan, VillagePlan
from .state import DemoState

# A rural county's age structure: ((youngest, oldest), share in per cent).
AGE_BANDS = [((0, 14), 14), ((15, 39), 22), ((40, 59), 32), ((60, 79), 27), ((80, 96), 5)]
DEMO_PATIENT_AGE = 64


def _birth(state: DemoState, age: int) -> dt.date:
    return state.today - dt.timedelta(days=int(age * 365.25) + state.rng.randint(1, 364))


def build_patients(state: DemoState) -> None:
    rng = state.rng
    places: list[tuple[TownshipPlan, VillagePlan]] = [(t, v) for t in state.townships for v in t.villages]
    weights = [v.population for _t, v in places]
    bands, band_weights = [b for b, _w in AGE_BANDS], [w for _b, w in AGE_BANDS]
    numbers: set[str] = set()
    patients: list[Patient] = []
    care: list[CareTeamMember] = []
    for i in range(state.patient_count):
        if i == 0:  # the demo patient: registered by the `village` persona at their clinic
            t, v = places[0]
            male, birth = False, _birth(state, DEMO_PATIENT_AGE)
            doctor = state.personas["village"]
        else:
            t, v = rng.choices(places, weights=weights)[0]
            low, high = rng.choices(bands, weights=band_weights)[0]
            male, birth = rng.random() < 0.5, _birth(state, rng.randint(low, high))
            doctor = rng.choice(state.village_doctors[v.code])
        number = make_resident_id(COUNTY6, birth, rng.randrange(1000), male)
        while number in numbers:
            number = make_resident_id(COUNTY6, birth, rng.randrange(1000), male)
        numbers.add(number)
        phone = state.mobile() if i == 0 or rng.random() < 0.9 else ""
        patient = Patient(
            name=person_name(rng, male, birth.year), sex=Sex.MALE if male else Sex.FEMALE, birth_date=birth,
            id_number=number, id_number_hash=id_hash(number), id_number_last4=number[-4:],
            phone=phone, phone_hash=phone_hash(phone) if phone else "", region_id=v.code,
            address=f"{COUNTY[1]}{t.name}{v.name}{rng.randint(1, 12)}组{rng.randint(1, 80)}号",
            registered_at=state.clinics[v.code], registered_by=doctor)
        patients.append(patient)
        care.append(CareTeamMember(patient=patient, practitioner=doctor, role=CareRole.REGISTERING,
                                   source_type="registration"))
        care.append(CareTeamMember(patient=patient, team=state.family_teams[v.code], role=CareRole.FAMILY_DOCTOR,
                                   source_type="contract"))
    Patient.objects.bulk_create(patients)
    CareTeamMember.objects.bulk_create(care)
    record_many(system_actor("demo"), [
        Entry(action="patient.register", verb=Verb.CREATE, object_type="patients.patient", object_id=str(p.pk),
              patient_id=p.pk, detail={"source": "demo"}) for p in patients])
    state.patients = patients
    state.demo_patient = patients[0] if patients else None
    state.counts["patients"] = len(patients)
    state.counts["care-team members"] = len(care)
