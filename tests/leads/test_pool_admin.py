"""/pool admin as people type it: the pools one administers, creating one, its rules (checked like the
org file, all or nothing) and its members; who may do what; two-word commands in the table and menu."""
from dataclasses import replace

from sqlalchemy import func, select

from bot.adapters.console import format_reply
from bot.adapters.telegram.menu import bot_commands
from bot.bootstrap import command_table
from bot.handlers.registry import Access
from db.base import utcnow
from db.models import Lead, Pool, PoolMember, User
from db.models.audit import AuditEntry
from tests.conftest import say


def pool_row(db, name="demo pool") -> Pool:
    with db.uow() as uow:
        pool = uow.session.scalar(select(Pool).where(Pool.name == name))
        assert pool is not None
        uow.session.expunge(pool)
        return pool


def audit_count(db, record_type: str) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.record_type == record_type))


def add_lead(db, pool_name: str, company: str) -> None:
    with db.uow() as uow:
        pool_id = uow.session.scalar(select(Pool.id).where(Pool.name == pool_name))
        uow.session.add(Lead(company=company, name_key=company.lower(), pool_id=pool_id, created_at=utcnow()))
        uow.commit()


def test_an_admin_sees_every_pool_with_its_rules_and_members(console):
    out = say(console, "/pool admin")
    assert "demo pool (#1)" in out
    assert "daily_claim_limit = 20 — most claims per rep per day" in out
    assert "return_no_deal_created_days = off" in out
    assert "members: Acme Trading, @mei (admin)" in out


def test_create_a_pool_for_a_unit_and_only_that_unit_sees_it(console, db):
    out = say(console, '/pool admin create "North pool" "East Team"')
    assert 'Pool "North pool" created' in out and "members: East Team" in out
    pool = pool_row(db, "North pool")
    assert pool.active and pool.daily_claim_limit == 20 and pool.return_no_followup_days == 7
    assert audit_count(db, "pool") >= 1 and audit_count(db, "pool_member") >= 1
    add_lead(db, "North pool", "Northern Star Ltd")
    say(console, "/as li")  # East Team
    assert "Northern Star" in say(console, "/pool northern")
    say(console, "/as sam")  # West Team
    assert "Northern Star" not in say(console, "/pool northern")


def test_create_without_units_is_for_the_whole_company_and_a_name_is_taken_once(console, db):
    assert "members: Acme Trading" in say(console, "/pool admin create Everyone")
    root = pool_row(db).unit_id
    with db.uow() as uow:
        members = uow.session.scalars(select(PoolMember).join(Pool).where(Pool.name == "Everyone")).all()
        assert [(m.unit_id, m.user_id, m.is_admin) for m in members] == [(root, None, False)]
    before = audit_count(db, "pool")
    assert 'name: "Demo Pool" appears twice; nothing was changed.' in say(console, '/pool admin create "Demo Pool"')
    assert 'no unit named "Nowhere"' in say(console, "/pool admin create Other Nowhere")
    assert audit_count(db, "pool") == before  # the refused ones wrote nothing


def test_rules_are_merged_checked_and_answered_old_to_new(console, db):
    before = audit_count(db, "pool")
    out = say(console, "/pool admin rules demo pool daily_claim_limit=10 return_no_followup_days=off "
                       "A.return_no_followup_days=14")
    assert "daily_claim_limit: 20 → 10" in out and "return_no_followup_days: 7 → off" in out
    assert "A.return_no_followup_days: (as the pool) → 14" in out
    pool = pool_row(db)
    assert pool.daily_claim_limit == 10 and pool.return_no_followup_days is None
    assert pool.level_rules == {"A": {"return_no_followup_days": 14}} and pool.max_open_leads == 50
    assert audit_count(db, "pool") == before + 1
    assert "A.return_no_followup_days = 14 — back to the pool after" in say(console, "/pool admin")
    assert "Nothing changed" in say(console, '/pool admin rules "demo pool" daily_claim_limit=10')


def test_a_bad_rule_changes_nothing_and_names_the_key(console, db):
    before = audit_count(db, "pool")
    assert say(console, "/pool admin rules demo pool daily_claim_limit=5 colour=red") == (
        "colour: there is no setting by that name here; nothing was changed.")
    assert "max_open_leads: 0 is too small (at least 1); nothing was changed." in say(
        console, "/pool admin rules demo pool daily_claim_limit=5 max_open_leads=0")
    assert '"x" is not a whole number' in say(console, "/pool admin rules demo pool daily_claim_limit=x")
    assert "B.daily_claim_limit: there is no setting" in say(console, "/pool admin rules demo pool B.daily_claim_limit=3")
    assert "is not a setting: write key=value" in say(console, "/pool admin rules demo pool daily_claim_limit=5 oops")
    assert pool_row(db).daily_claim_limit == 20 and audit_count(db, "pool") == before


def test_a_pool_admin_sets_his_pools_rules_in_chinese_but_creates_nothing(console, db):
    say(console, "/as mei")  # a manager named admin of the demo pool
    assert "daily_claim_limit:20 → 12" in say(console, "/pool admin rules demo pool daily_claim_limit=12")
    assert say(console, "/pool admin rules demo pool daily_claim_limit=abc") == (
        "daily_claim_limit:“abc”不是整数,未做任何修改。")
    assert pool_row(db).daily_claim_limit == 12
    assert "只有公司管理员可以创建公海" in say(console, "/pool admin create 新公海")
    assert "你管理的公海" in say(console, "/pool admin")


def test_anyone_else_finds_no_such_pool(console, db):
    say(console, '/pool admin create "North pool" "East Team"')
    say(console, "/as li")
    real = say(console, "/pool admin rules demo pool daily_claim_limit=99")
    missing = say(console, "/pool admin rules nosuch pool daily_claim_limit=99")
    assert real == missing.replace("nosuch pool", "demo pool")
    assert say(console, "/pool admin members demo pool add @li --admin") == real
    assert "你没有管理任何公海" in say(console, "/pool admin")
    say(console, "/as mei")  # admin of the demo pool, not of North pool
    assert say(console, "/pool admin members North pool add @mei") == "你没有名为「North pool」的公海。你的公海:demo pool。"
    assert pool_row(db).daily_claim_limit == 20
    with db.uow() as uow:
        assert not uow.session.scalar(select(func.count()).select_from(PoolMember).join(User, PoolMember.user_id == User.id)
                                      .where(User.handle == "li"))


def test_members_add_and_remove_change_who_sees_the_pool(console, db):
    say(console, '/pool admin create "North pool" "East Team"')
    add_lead(db, "North pool", "Northern Star Ltd")
    out = say(console, "/pool admin members North pool add @sam --admin")
    assert "@sam is now a member and an admin." in out and "Members: East Team, @sam (admin)" in out
    assert "East Team was taken out" in say(console, "/pool admin members North pool remove East Team")
    with db.uow() as uow:
        removed = uow.session.scalars(select(PoolMember).where(PoolMember.removed_at.is_not(None))).all()
        assert len(removed) == 1  # marked, not deleted
    say(console, "/as li")
    assert "Northern Star" not in say(console, "/pool northern")
    say(console, "/as sam")
    assert "Northern Star" in say(console, "/pool northern")
    assert "Rules of \"North pool\"" in say(console, "/pool admin rules North pool daily_claim_limit=3")
    assert "last member" in say(console, "/pool admin members North pool remove @sam")
    say(console, "/as admin")
    assert 'nobody with the handle "@ghost"' in say(console, "/pool admin members North pool add @ghost")
    assert 'no unit named "Mars"' in say(console, "/pool admin members North pool add Mars")
    assert "Nothing changed" in say(console, "/pool admin members North pool remove West Team")
    assert "Usage:" in say(console, "/pool admin members North pool join @li")


def test_slack_spells_the_usage_and_help_with_its_prefix(console):
    incoming = replace(console.to_incoming("/pool admin rules"), command_prefix="/crm ")
    out = format_reply(console.router.handle(incoming)[0])
    assert "/crm pool admin rules POOL key=value" in out and "/crm pool admin members" in out
    incoming = replace(console.to_incoming("/help"), command_prefix="/crm ")
    assert "/crm pool admin create NAME" in format_reply(console.router.handle(incoming)[0])


def test_two_word_commands_resolve_and_the_rest_stays_the_pool():
    table = command_table()
    assert table.resolve("pool", "admin rules x a=1")[0].name == "pool admin"
    assert table.resolve("pool", "admin rules x a=1")[1] == "rules x a=1"
    assert table.resolve("pool", "Admin")[0].name == "pool admin"
    assert table.resolve("公海", "admin")[0].name == "pool admin"
    assert table.resolve("pool", "2 acme") == (table.lookup("pool"), "2 acme")
    assert table.resolve("pool", "administration")[0].name == "pool"
    assert table.resolve("channel", "set locale=zh")[0].name == "channel set"


def test_the_telegram_menu_lists_a_two_word_command_by_its_first_word():
    names = [c.command for c in bot_commands(command_table(), "en", Access.ADMIN)]
    assert names.count("pool") == 1 and names.count("channel") == 1
    assert all(" " not in name for name in names)


def test_pool_paging_and_search_still_work(console):
    say(console, "/as sam")
    assert "Northwind" in say(console, "/pool northwind")
    assert "page 2" in say(console, "/pool 2")
