import pytest
from django.core.management import call_command
from django.db import IntegrityError, InternalError, connection, transaction

from medunion.access.actor import system_actor
from medunion.audit import triggers
from medunion.audit.actions import record
from medunion.audit.models import GENESIS, AuditEvent
from medunion.audit.verify import verify_chain
from medunion.cli import main


def _triggers_present() -> set[str]:
    with connection.cursor() as cur:
        if connection.vendor == "sqlite":
            cur.execute("SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_auditevent'")
        else:
            cur.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_auditevent'::regclass "
                        "AND NOT tgisinternal")
        return {r[0] for r in cur.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_the_migration_installs_the_append_only_triggers():
    call_command("migrate", "audit", "0001", verbosity=0)
    assert _triggers_present() == set()
    call_command("migrate", "audit", verbosity=0)
    assert len(_triggers_present()) >= 2


def test_rows_cannot_be_changed_or_deleted(world):
    row = AuditEvent.objects.first()
    for statement in (lambda: AuditEvent.objects.filter(pk=row.pk).update(action="x"),
                      lambda: AuditEvent.objects.filter(pk=row.pk).delete()):
        with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
            statement()
    assert AuditEvent.objects.get(pk=row.pk).action == row.action


def test_chain_links_every_row(world):
    rows = list(AuditEvent.objects.order_by("seq"))
    assert rows[0].prev_hash == GENESIS
    for a, b in zip(rows, rows[1:], strict=False):
        assert b.prev_hash == a.hash
        assert b.hash == b.compute_hash()
    assert verify_chain().ok


def _tamper(sql: str, params: list) -> None:
    triggers.remove(connection)  # an attacker with database access can do this too
    with connection.cursor() as cur:
        cur.execute(sql, params)
    triggers.install(connection)


def test_verify_reports_the_first_changed_row(world, capsys):
    target = AuditEvent.objects.order_by("seq")[3]
    _tamper("UPDATE audit_auditevent SET actor_display = %s WHERE seq = %s", ["someone else", target.seq])
    result = verify_chain()
    assert not result.ok and result.broken_seq == target.seq
    assert "changed" in result.reason
    assert main(["audit", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"BROKEN at event {target.seq}" in out


def test_verify_reports_a_deleted_row(world):
    target = AuditEvent.objects.order_by("seq")[2]
    _tamper("DELETE FROM audit_auditevent WHERE seq = %s", [target.seq])
    result = verify_chain()
    assert not result.ok and result.broken_seq > target.seq
    assert "removed or inserted" in result.reason


def test_verify_passes_on_an_intact_chain(world, capsys):
    record(system_actor("test"), "test.read")
    assert main(["audit", "verify"]) == 0
    assert "no broken link" in capsys.readouterr().out


def test_verify_walks_in_batches(world):
    for _ in range(7):
        record(system_actor("test"), "test.read")
    seen = []
    assert verify_chain(progress=seen.append, batch=3).ok
    assert seen == sorted(seen) and len(seen) >= 3
