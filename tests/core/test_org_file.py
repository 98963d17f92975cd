"""A whole company from one org file through `fieldcrm org load`: units with their visit checks and
announcements, users with their nudges, team channels with their settings, pools with members,
admins and rules, holidays and lose reasons; leads then import into the new pool."""
import yaml
from sqlalchemy import select

from bot.services.deals import channel_settings
from bot.services.leads import pool_members, pool_rules
from db.models import (
    AuditEntry,
    ChannelBoardSettings,
    Lead,
    LoseReason,
    OrgUnit,
    Pool,
    TeamChannel,
    User,
)
from tests.conftest import ROOT
from tests.core.org_files import COMPANY, audit_rows, row_counts, write


def test_a_whole_company_loads(db, fieldcrm, tmp_path):
    code, out, err = fieldcrm("org", "load", write(tmp_path, COMPANY))
    assert code == 0, err
    assert "6 new units, 5 new users" in out and "2 new pools" in out and out.count("invitation for") == 5
    with db.uow() as uow:
        units = {u.name: u for u in uow.session.scalars(select(OrgUnit))}
        assert units["浦东"].path == f"/{units['华东贸易'].id}/{units['上海一组'].id}/{units['浦东'].id}/"
        assert units["华东贸易"].phone_region == "CN" and units["Vertrieb"].timezone is None
        users = {u.handle: u for u in uow.session.scalars(select(User))}
        assert users["li"].manager_id == users["mei"].id and users["mei"].manager_id == users["wang"].id
        assert users["zhang"].data_scope == "unit" and users["li"].data_scope == "self"
        assert users["li"].locale == "en" and users["li"].timezone == "UTC"  # the deployment's defaults
        telegram = uow.session.scalar(select(TeamChannel).where(TeamChannel.platform == "telegram"))
        assert telegram.chat_id == "-1001234567890" and telegram.name == "上海销售群"
        assert (telegram.quiet_start, telegram.quiet_end) == (22 * 60, 8 * 60)
        settings = channel_settings.settings_of(uow, telegram)
        assert settings.boards.time == "18:30" and settings.boards.periods == ["day", "month"]
        assert settings.boards.top == 5 and settings.boards.weekends is True
        slack = uow.session.scalar(select(TeamChannel).where(TeamChannel.platform == "slack"))
        slack_settings = channel_settings.settings_of(uow, slack)
        assert slack.include_subunits is False and slack_settings.boards.weekly_on == "monday"
        assert slack_settings.boards.metric == "won_deals" and slack_settings.boards.merge_seconds == 60
        pool = uow.session.scalar(select(Pool).where(Pool.name == "华东公海"))
        rules = pool_rules.rules_of(pool)
        assert (rules.max_open_leads, rules.daily_claim_limit, rules.return_no_followup_days) == (30, 10, 5)
        assert rules.return_no_deal_days is None and rules.reclaim_cooldown_days == 0 and rules.auto_distribute
        assert pool.level_rules == {"A": {"return_no_followup_days": 14},
                                    "B": {"return_no_deal_created_days": 20, "return_no_followup_days": None}}
        rows = {(r.unit_id, r.user_id): r.is_admin for r in pool_members.members(uow, pool.id)}
        assert rows == {(units["上海一组"].id, None): False, (units["杭州组"].id, None): False,
                        (None, users["jan"].id): False, (None, users["mei"].id): True}
        assert pool.unit_id is None  # its members span two companies
        berlin = uow.session.scalar(select(Pool).where(Pool.name == "Berlin pool"))
        assert berlin.unit_id == units["Berlin GmbH"].id and pool_rules.rules_of(berlin) == pool_rules.PoolRules()


def test_every_write_is_audited(db, fieldcrm, tmp_path):
    assert fieldcrm("org", "load", write(tmp_path, COMPANY))[0] == 0
    with db.uow() as uow:
        audited = {(row.record_type, row.action) for row in uow.session.scalars(select(AuditEntry))}
    for table in ("pool", "pool_member", "channel", "channel_board_settings", "unit", "user", "visit_settings",
                  "unit_announce_settings", "nudge_settings", "holidays", "lose_reasons"):
        assert (table, "create") in audited, table
    changed = COMPANY.replace("daily_claim_limit: 10", "daily_claim_limit: 12").replace("top: 5", "top: 7")
    changed = changed.replace("admins: [mei]", "admins: [zhang]").replace("22:00-08:00", "23:00-07:00")
    before = audit_rows(db)
    assert fieldcrm("org", "load", write(tmp_path, changed))[0] == 0
    with db.uow() as uow:
        updates = {(row.record_type, tuple(sorted(row.after or {})))
                   for row in uow.session.scalars(select(AuditEntry).where(AuditEntry.id > before))}
    assert ("pool", ("daily_claim_limit",)) in updates
    assert ("channel_board_settings", ("top_n",)) in updates
    assert ("channel", ("quiet_end", "quiet_start")) in updates
    assert ("pool_member", ("removed_at",)) in updates  # mei is no longer an admin: her row is taken out
    assert ("pool_member", ("id", "is_admin", "pool_id", "removed_at", "unit_id", "user_id")) in updates


def test_loading_the_same_file_again_changes_nothing(db, fieldcrm, tmp_path):
    path = write(tmp_path, COMPANY)
    assert fieldcrm("org", "load", path)[0] == 0
    before = row_counts(db)
    code, out, _ = fieldcrm("org", "load", path)
    assert code == 0 and "0 new units, 0 new users, 5 updated" in out and "0 new pools, 2 updated" in out
    assert row_counts(db) == before


def test_leads_import_into_a_pool_the_org_file_made(db, fieldcrm, tmp_path):
    """The bug of issue #12: pools could not be set up by file, so the import found no active pool."""
    assert fieldcrm("org", "load", write(tmp_path, COMPANY))[0] == 0
    leads = tmp_path / "leads.csv"
    leads.write_text("公司名称,联系人,电话\n苏州新星科技,周敏,0512-6688 1234\n", encoding="utf-8")
    code, out, err = fieldcrm("import", "leads", str(leads), "--pool", "华东公海")
    assert code == 0, err
    assert "created 1" in out
    with db.uow() as uow:
        lead = uow.session.scalar(select(Lead))
        pool = uow.session.scalar(select(Pool).where(Pool.name == "华东公海"))
        assert lead.pool_id == pool.id and lead.phone_key == "+8651266881234"


def test_a_pool_left_out_of_the_file_is_left_alone_and_members_follow_the_file(db, fieldcrm, tmp_path):
    assert fieldcrm("org", "load", write(tmp_path, COMPANY))[0] == 0
    fewer = COMPANY.split("  - name: Berlin pool")[0].replace("users: [jan]", "users: []")
    assert fieldcrm("org", "load", write(tmp_path, fewer))[0] == 0
    with db.uow() as uow:
        assert uow.session.scalar(select(Pool.active).where(Pool.name == "Berlin pool")) is True
        pool = uow.session.scalar(select(Pool).where(Pool.name == "华东公海"))
        jan = uow.session.scalar(select(User.id).where(User.handle == "jan"))
        assert jan not in {row.user_id for row in pool_members.members(uow, pool.id)}
        shanghai = uow.session.scalar(select(OrgUnit).where(OrgUnit.name == "华东贸易"))
        assert pool.unit_id == shanghai.id  # now all its members are in one company
        assert uow.session.scalar(select(ChannelBoardSettings.top_n).where(ChannelBoardSettings.top_n == 5)) == 5


def test_the_example_in_the_setup_guide_loads(db, fieldcrm, tmp_path):
    guide = (ROOT / "docs" / "admin" / "setup.md").read_text(encoding="utf-8")
    example = guide.split("## 2. The org file", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    code, out, err = fieldcrm("org", "load", write(tmp_path, example))
    assert code == 0, err
    assert "1 new pool" in out
    with db.uow() as uow:
        pool = uow.session.scalar(select(Pool).where(Pool.name == "华东公海"))
        assert pool.level_rules == {"A": {"return_no_followup_days": 21}} and pool.return_no_deal_days is None


def test_unit_settings_holidays_and_lose_reasons_follow_the_file_and_nudges_stay(db, fieldcrm, tmp_path):
    assert fieldcrm("org", "load", write(tmp_path, COMPANY))[0] == 0
    changed = (COMPANY.replace("    announcements: {announce_on: collected, fanfare: [50000, 10000]}\n", "")
               .replace(", visits: {accuracy_max_m: 100}, announcements: {}", "")
               .replace(", nudges: {enabled: off, visit_by: 10:30}", "")
               .replace("  2026-10-02: 国庆节\n", "").replace("  competitor: 选了竞争对手\n", ""))
    assert fieldcrm("org", "load", write(tmp_path, changed))[0] == 0
    data = yaml.safe_load(fieldcrm("org", "dump")[1])
    company, berlin = data["units"]
    assert "announcements" not in company and company["visits"]["geofence_m"] == 300
    assert berlin["children"] == [{"name": "Vertrieb"}]  # its own settings removed: it follows Berlin GmbH
    assert data["users"][3]["nudges"] == {"enabled": False, "visit_by": "10:30"}  # left out: the person's stand
    assert data["holidays"] == {"2026-10-01": "国庆节"}
    assert data["lose_reasons"] == {"price": "价格太高"}
    with db.uow() as uow:
        entries = uow.session.scalars(select(AuditEntry)).all()
    assert not [e for e in entries if e.action == "delete"]  # nothing is hard-deleted: taken out is marked
    removed = {e.record_type for e in entries if e.action == "update" and (e.after or {}).get("removed_at")}
    assert removed == {"visit_settings", "unit_announce_settings", "holidays"}  # every removal audited
    with db.uow() as uow:  # a reason no longer listed is closed, not deleted (deals may name it)
        assert uow.session.scalars(select(LoseReason.active).order_by(LoseReason.id)).all() == [True, False]
