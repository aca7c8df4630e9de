import pytest
from django.db import transaction

from medunion.consults import actions
from medunion.notifications import senders
from medunion.notifications.models import Notification
from tests.consults.conftest import ask

SENT: list[tuple[str, str, str]] = []


class Recorder:
    def send(self, notification, user):
        SENT.append((user.username, notification.kind, notification.title))


@pytest.fixture(autouse=True)
def _recorder(settings):
    SENT.clear()
    senders._load.cache_clear()
    settings.MEDUNION_NOTIFY_SENDERS = [f"{__name__}.Recorder"]
    yield
    senders._load.cache_clear()


def test_a_new_case_is_sent_after_commit_and_a_rolled_back_one_never(cw, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                ask(cw)
                raise RuntimeError("the page failed after the action")
    assert SENT == [] and not Notification.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        c = ask(cw)
        assert SENT == []
    assert sorted(u for u, kind, _ in SENT if kind == "consult.new") == [
        "cardiologist_b", "cardiologist_tertiary", "county_cardiologist"]
    with django_capture_on_commit_callbacks(execute=True):
        actions.claim_consult(acting=cw.actor("cardiologist_b"), consult_id=c.pk)
    assert ("village_doctor_a", "consult.claimed") in {(u, k) for u, k, _ in SENT}
    for _, _, title in SENT:
        assert "陈桂芳" not in title and cw.world.patients["patient_a_id_number"] not in title


def test_the_pool_fan_out_is_capped(cw, settings):
    settings.MEDUNION_NOTIFY_FANOUT = 2
    c = ask(cw)
    assert Notification.objects.filter(consult=c, kind="consult.new").count() == 2


def test_the_actor_is_never_notified_of_their_own_step(cw):
    c = ask(cw, target_kind="team", target_team_id=cw.team.pk)
    cardio = cw.actor("cardiologist_tertiary")
    actions.claim_consult(acting=cardio, consult_id=c.pk)
    actions.post_message(acting=cardio, consult_id=c.pk, body="收到")
    mine = Notification.objects.filter(consult=c, user__username="cardiologist_tertiary")
    assert list(mine.values_list("kind", flat=True)) == ["consult.new"]
