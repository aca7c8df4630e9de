import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from medunion.consults import actions
from medunion.notifications import senders
from medunion.notifications.actions import mark_all_read
from medunion.notifications.models import Notification
from medunion.notifications.queries import unread_count
from tests.consults.conftest import ask
from tests.plans import plans_of

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


def test_a_busy_accounts_unread_notices_are_found_through_their_own_index(cw):
    """A case page asks for its unread notices on every view, and every page counts the badge. For
    an account with thousands of notices SQLite, planning from its statistics, walked all of them
    through the inbox index (2.9 ms a case page on the province): the unread ones are indexed by
    account and case."""
    c = ask(cw)
    busy = cw.users["cardiologist_b"]
    Notification.objects.bulk_create(
        Notification(user=busy, kind="consult.message", title=f"n{i}", read_at=None if i % 4 else c.created_at)
        for i in range(400))
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    specialist = cw.actor("cardiologist_b")
    with CaptureQueriesContext(connection) as ctx:
        assert mark_all_read(acting=specialist, consult_id=c.pk) == 1
        assert unread_count(specialist) == 300
    plans = plans_of(ctx)
    case_plan, badge_plan = plans
    assert "notification_unread_case" in badge_plan, badge_plan
    # Found by the case: through the unread index by account and case, or (PostgreSQL, whose
    # statistics say a case has few notices) through the case's own index; never account-wide.
    assert "notification_unread_case" in case_plan or "consult_id_" in case_plan, case_plan
    assert "notification_inbox" not in case_plan and "user_id_" not in case_plan, case_plan


def test_the_badge_counts_through_the_unread_index_however_the_statistics_fall(cw):
    """SQLite's statistics hold averages: when the accounts with unread notices hold many more of
    them than accounts hold notices on average (a busy specialist with everything unread, many
    accounts that have read theirs), its planner took the inbox index and read every notice of
    the busy account's row by row (the province, after refreshed statistics: 6 ms a page, 0.2
    through the unread index). PostgreSQL's planner weighs an index by its size: with the aborted
    rows earlier tests leave in the table, it counted through an index on the account alone and
    filtered every notice the account has (the unread index would have been no smaller); the table
    has no such index now."""
    aborted = list(cw.users.values())
    with pytest.raises(RuntimeError), transaction.atomic():
        Notification.objects.bulk_create(Notification(user=aborted[i % len(aborted)], kind="k", title="t")
                                          for i in range(2000))
        raise RuntimeError("rolled back: rows the table and its indexes still hold")
    busy = cw.users["cardiologist_b"]
    Notification.objects.bulk_create(Notification(user=busy, kind="consult.message", title=f"n{i}")
                                     for i in range(300))
    readers = [u for name, u in cw.users.items() if name != "cardiologist_b"]
    read = cw.world.consortium.created_at
    Notification.objects.bulk_create(Notification(user=u, kind="consult.message", title=f"r{i}", read_at=read)
                                     for u in readers for i in range(20))
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    specialist, doctor = cw.actor("cardiologist_b"), cw.actor("village_doctor_a")
    with CaptureQueriesContext(connection) as ctx:
        assert unread_count(specialist) == 300
        assert unread_count(doctor) == 0
    for plan in plans_of(ctx):
        assert "notification_unread_case" in plan and "notification_inbox" not in plan, plan
