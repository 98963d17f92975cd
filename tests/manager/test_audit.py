"""The audit log: every change by anyone (or the system) is recorded with before and after, read by
a manager for his subtree with /audit, and bad org files are refused as a whole."""
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.actor import CURRENT_ACTOR
from bot.cli import main as fieldcrm
from bot.services.core import identity
from db.models import Lead, OrgUnit, User
from db.models.audit import AuditEntry
from tests.conftest import say


def entries(db, record_type, record_id=None):
    with db.uow() as uow:
        query = select(AuditEntry).where(AuditEntry.record_type == record_type)
        if record_id is not None:
            query = query.where(AuditEntry.record_id == record_id)
        return uow.session.scalars(query.order_by(AuditEntry.id)).all()


def test_a_command_change_is_audited_with_actor_platform_before_and_after(console, db):
    say(console, "/as li")
    say(console, "/lang en")
    with db.uow() as uow:
        li = identity.find_user(uow, "li")
    change = entries(db, "user", li.id)[-1]
    assert change.actor_id == li.id and change.platform == "console" and change.action == "update"
    assert change.before == {"locale": "zh"} and change.after == {"locale": "en"}


def test_changes_without_a_command_are_the_systems(db, demo_org):
    CURRENT_ACTOR.set(None)
    with db.uow() as uow:
        lead = Lead(company="Pool lead", name_key="poollead", status="unassigned")
        uow.session.add(lead)
        uow.commit()
        lead.status = "voided"
        uow.commit()
    created, voided = entries(db, "lead", lead.id)
    assert created.action == "create" and created.after["company"] == "Pool lead" and created.actor_id is None
    assert voided.platform == "system" and voided.before == {"status": "unassigned"}
    assert voided.after == {"status": "voided"}


def test_a_refused_command_leaves_no_audit_trace(console, db):
    before = len(entries(db, "user"))
    say(console, "/lang klingon")
    assert len(entries(db, "user")) == before


def test_audit_command_shows_history_inside_scope_only(console, db):
    with db.uow() as uow:
        li = identity.find_user(uow, "li")
        lead = Lead(company="Audited Co", name_key="auditedco", status="pending", owner_id=li.id)
        uow.session.add(lead)
        uow.commit()
    say(console, "/handover li zhang leads")
    out = say(console, f"/audit lead {lead.id}")
    assert "History of lead" in out and "handover" in out and "Ada Admin (console)" in out
    assert f"owner_id: {li.id} →" in out
    say(console, "/as mei")
    assert f"线索 #{lead.id} 的修改历史" in say(console, f"/audit 线索 {lead.id}")
    assert "没有编号为 #999" in say(console, "/audit lead 999")
    assert "不是记录类型" in say(console, "/audit planet 1")
    say(console, "/as li")
    assert "不能使用 /audit" in say(console, f"/audit lead {lead.id}")
    with db.uow() as uow:
        # A manager of West Team only cannot read East's records.
        west = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "West Team"))
        uow.session.add(User(handle="westboss", name="West Boss", unit_id=west, role="manager",
                             data_scope="subtree", locale="en"))
        uow.commit()
        from bot.services.core import org
        from db.base import utcnow

        org.link_console_identity(uow, identity.find_user(uow, "westboss").id, "westboss", utcnow())
        uow.commit()
    say(console, "/as westboss")
    out = say(console, f"/audit lead {lead.id}")
    # Out of reach reads exactly like a record that does not exist.
    assert out == say(console, "/audit lead 999").replace("999", str(lead.id)) and "Audited Co" not in out


def _add_manager(db, handle: str, unit: str) -> None:
    from bot.services.core import org
    from db.base import utcnow

    with db.uow() as uow:
        unit_id = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == unit))
        uow.session.add(User(handle=handle, name=handle.title(), unit_id=unit_id, role="manager",
                             data_scope="subtree", locale="en"))
        uow.session.flush()
        org.link_console_identity(uow, identity.find_user(uow, handle).id, handle, utcnow())
        uow.commit()


def test_audit_follows_lead_visibility_for_an_unassigned_pool_lead(console, db, demo_pool):
    """/audit lead N answers whoever /lead N answers: a manager of the pool's team reads an
    unassigned lead's history; a manager outside it gets exactly the not-found line."""
    from db.models import Pool, PoolMember

    _add_manager(db, "eastboss", "East Team")
    _add_manager(db, "westboss", "West Team")
    with db.uow() as uow:
        east = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "East Team"))
        pool = Pool(name="east pool", unit_id=east)
        uow.session.add(pool)
        uow.session.flush()
        uow.session.add(PoolMember(pool_id=pool.id, unit_id=east))
        lead = Lead(company="East Pool Co", name_key="eastpoolco", status="unassigned", pool_id=pool.id)
        uow.session.add(lead)
        uow.commit()
    say(console, "/as eastboss")
    assert "East Pool Co" in say(console, f"/lead {lead.id}")
    assert "History of lead" in say(console, f"/audit lead {lead.id}")
    say(console, "/as westboss")
    missing = say(console, "/audit lead 999")
    assert say(console, f"/audit lead {lead.id}") == missing.replace("999", str(lead.id))


def test_org_file_with_a_cycle_is_refused_by_the_cli_and_writes_nothing(db, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db.url)
    (tmp_path / "org.yaml").write_text(
        "units:\n  - name: A\n    parent: B\n  - name: B\n    parent: A\n"
        "users:\n  - handle: x\n    unit: A\n", encoding="utf-8")
    assert fieldcrm(["org", "load", str(tmp_path / "org.yaml")]) == 2
    assert "cycle" in capsys.readouterr().err
    with db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(OrgUnit)) == 0
        assert uow.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_a_long_history_pages_with_buttons(console, db):
    with db.uow() as uow:
        li = identity.find_user(uow, "li")
        lead = Lead(company="Busy Co", name_key="busyco", status="pending", owner_id=li.id)
        uow.session.add(lead)
        uow.session.flush()
        uow.session.add_all(AuditEntry(record_type="lead", record_id=lead.id, action="update", platform="console",
                                       before={"note": f"v{i}"}, after={"note": f"v{i + 1}"},
                                       at=datetime(2026, 5, 1, tzinfo=UTC) + timedelta(minutes=i))
                            for i in range(40))
        uow.commit()
    first = console.router.handle(console.to_incoming(f"/audit lead {lead.id}"))[0]
    assert "note: v39 → v40" in first.text and "note: v9 → v10" not in first.text
    [following] = [b.payload for b in first.buttons]
    assert following == f"audit lead {lead.id} --page 2"
    second = console.router.handle(console.to_incoming("/" + following))[0]
    assert "note: v9 → v10" in second.text and "note: v0 → v1" in second.text and "v39" not in second.text
    assert "Showing 31–41 of 41 · page 2." in second.text  # the 40 updates and the lead's creation
    assert [b.label for b in second.buttons] == ["« Previous"]
