import pytest

from medunion.access.policy import relationship_to, visible_patients
from medunion.audit.models import AuditEvent
from medunion.audit.verify import verify_chain


@pytest.mark.django_db
def test_world_builds_and_chain_verifies(world):
    p = world.patients["patient_a"]
    assert relationship_to(world.actor("village_doctor_a"), p.pk) == "care_team"
    assert relationship_to(world.actor("outsider"), p.pk) is None
    assert list(visible_patients(world.actor("outsider"))) == []
    assert AuditEvent.objects.filter(patient_id=p.pk, action="patient.register").count() == 1
    assert verify_chain().ok
