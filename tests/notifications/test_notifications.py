import logging

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils.translation import gettext_lazy as _

from medunion.core.errors import NotFound
from medunion.notifications import senders
from medunion.notifications.actions import mark_all_read, mark_read, notify
from medunion.notifications.models import Notification
from medunion.notifications.queries import inbox, unread_count

SENT: list[tuple[str, str]] = []


class RecordingSender:
    def send(self, notification, user):
        SENT.append((user.username, notification.title))


class BrokenSender:
    def send(self, notification, user):
        raise RuntimeError("gateway down")


@pytest.fixture(autouse=True)
def _senders(settings):
    SENT.clear()
    senders._load.cache_clear()
    settings.MEDUNION_NOTIFY_SENDERS = [f"{__name__}.RecordingSender"]
    yield
    senders._load.cache_clear()


def test_rows_now_senders_only_after_commit(world, django_capture_on_commit_callbacks):
    users = [world.users["village_doctor_a"], world.users["cardiologist_tertiary"]]
    for u in users:
        u.language = "en"
        u.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        rows = notify(users, kind="test", title=_("New %(specialty)s case"), params={"specialty": "x"}, url="/x")
        assert len(rows) == 2 and Notification.objects.count() == 2
        assert SENT == []  # not before the commit
    assert len(callbacks) == 1
    assert sorted(SENT) == [("cardiologist_tertiary", "New x case"), ("village_doctor_a", "New x case")]


def test_the_senders_are_those_configured_when_the_event_happened(world, settings,
                                                                  django_capture_on_commit_callbacks):
    """The demo builds its history with no sender; the commit comes after that setting is gone."""
    from django.test.utils import override_settings

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with override_settings(MEDUNION_NOTIFY_SENDERS=[]):
            notify([world.users["village_doctor_a"]], kind="test", title="quiet")
        notify([world.users["cardiologist_tertiary"]], kind="test", title="loud")
    assert len(callbacks) == 2 and SENT == [("cardiologist_tertiary", "loud")]


def test_a_rolled_back_action_sends_nothing(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                notify([world.users["village_doctor_a"]], kind="test", title="hello")
                raise RuntimeError("the action failed")
    assert callbacks == [] and SENT == [] and not Notification.objects.exists()


def test_a_failing_sender_is_logged_and_does_not_stop_the_others(world, settings, caplog,
                                                                   django_capture_on_commit_callbacks):
    settings.MEDUNION_NOTIFY_SENDERS = [f"{__name__}.BrokenSender", f"{__name__}.RecordingSender"]
    senders._load.cache_clear()
    with caplog.at_level(logging.ERROR, logger="medunion.notifications"):
        with django_capture_on_commit_callbacks(execute=True):
            notify([world.users["village_doctor_a"]], kind="test", title="hello")
    assert SENT == [("village_doctor_a", "hello")]
    assert "BrokenSender failed" in caplog.text


def test_titles_are_rendered_in_each_recipients_language(world):
    names = ("village_doctor_a", "cardiologist_tertiary", "village_doctor_b")
    a, b, c = (world.users[name] for name in names)
    for user, language in ((a, "en"), (b, "zh-hans"), (c, "en")):
        user.language = language
        user.save(update_fields=["language"])
    from medunion.network.codes import Specialty
    notify([a, b], kind="test", title=_("New message about your consultation"))
    # Rendered once per language: the English text goes to both English readers, in any order.
    notify([a, b, c], kind="test2", title="%(s)s", params={"s": Specialty.CARDIOLOGY.label},
           body=_("New message about your consultation"))
    rows = {u: (t, body) for u, t, body in Notification.objects.filter(kind="test2")
            .values_list("user__username", "title", "body")}
    english = ("cardiology", "New message about your consultation")
    assert rows["village_doctor_a"] == rows["village_doctor_b"] == english
    assert rows["cardiologist_tertiary"][0] != "cardiology"
    assert rows["cardiologist_tertiary"][1] not in ("", "New message about your consultation")


def test_console_sender_prints_one_line_without_patient_data(world, capsys):
    n = notify([world.users["village_doctor_a"]], kind="consult.new", title="New cardiology case\n(urgent)",
               url="/consults/1", patient_id=world.patients["patient_a"].pk)[0]
    senders.ConsoleSender().send(n, world.users["village_doctor_a"])
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "village_doctor_a" in out and "New cardiology case (urgent)" in out
    assert "陈桂芳" not in out and world.patients["patient_a_id_number"] not in out
    assert str(world.patients["patient_a"].pk) not in out


def test_inactive_and_excluded_users_are_skipped(world):
    doctor = world.users["village_doctor_b"]
    doctor.is_active = False
    doctor.save(update_fields=["is_active"])
    rows = notify([doctor, world.users["village_doctor_a"], world.users["village_doctor_a"].pk,
                   world.users["cardiologist_tertiary"]], kind="t", title="x",
                  exclude=[world.users["cardiologist_tertiary"].pk])
    assert [r.user_id for r in rows] == [world.users["village_doctor_a"].pk]


def test_unread_count_inbox_and_mark_read(world, django_assert_num_queries):
    me, other = world.actor("village_doctor_a"), world.actor("village_doctor_b")
    mine = notify([world.users["village_doctor_a"]], kind="t", title="one") + \
        notify([world.users["village_doctor_a"]], kind="t", title="two")
    theirs = notify([world.users["village_doctor_b"]], kind="t", title="theirs")[0]
    with django_assert_num_queries(1):
        assert unread_count(me) == 2
    with django_assert_num_queries(1):
        assert [n.title for n in inbox(me)] == ["two", "one"]
    with pytest.raises(NotFound):
        mark_read(acting=me, notification_id=theirs.pk)
    with pytest.raises(NotFound):
        mark_read(acting=me, notification_id="junk")
    assert mark_read(acting=me, notification_id=mine[0].pk).read_at is not None
    assert unread_count(me) == 1 and [n.title for n in inbox(me, unread_only=True)] == ["two"]
    assert mark_all_read(acting=me) == 1 and unread_count(me) == 0
    assert unread_count(other) == 1
    assert unread_count(world.actor("coordinator")) == 0
    # Nothing left unread: asked, not written (on SQLite an UPDATE takes the write lock anyway).
    with CaptureQueriesContext(connection) as ctx:
        assert mark_all_read(acting=me) == 0
    assert [q["sql"].split()[0] for q in ctx.captured_queries] == ["SELECT"]
    assert unread_count(other) == 1


def test_senders_are_not_loaded_when_misconfigured(world, settings, caplog, django_capture_on_commit_callbacks):
    settings.MEDUNION_NOTIFY_SENDERS = ["no.such.Sender"]
    senders._load.cache_clear()
    with django_capture_on_commit_callbacks(execute=True):
        notify([world.users["village_doctor_a"]], kind="t", title="x")  # the request is not broken
    assert "could not be loaded" in caplog.text


def test_the_email_sender(world, settings, mailoutbox):
    settings.MEDUNION_PUBLIC_URL = "https://mu.example"
    doctor = world.users["village_doctor_a"]
    n = notify([doctor], kind="t", title="New case", body="From a clinic.", url="/consults/1")[0]
    senders.EmailSender().send(n, doctor)  # no address: nothing sent
    assert mailoutbox == []
    doctor.email = "zhang@example.cn"
    senders.EmailSender().send(n, doctor)
    assert [(m.subject, m.to) for m in mailoutbox] == [("New case", ["zhang@example.cn"])]
    assert "https://mu.example/consults/1" in mailoutbox[0].body


def test_a_plain_body_is_kept_as_written_even_with_a_percent_sign(world):
    """A note or a reason is someone's own words: "约 60%" is text, never a format (it raised
    ValueError when bodies were all formatted)."""
    rows = notify([world.users["village_doctor_a"]], kind="test", title=_("New message about your consultation"),
                  body="左肺压缩约 60%，建议 %(x)s 处理", params={"x": "y"})
    assert rows[0].body == "左肺压缩约 60%，建议 %(x)s 处理"
