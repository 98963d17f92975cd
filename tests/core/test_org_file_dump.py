"""`fieldcrm org dump` writes the org back as the same kind of file: loading the dump changes
nothing, and a dump loaded into an empty database dumps the same again."""
import yaml

from tests.conftest import empty_tables, load_demo_org
from tests.core.org_files import COMPANY, audit_rows, row_counts, write


def test_the_dump_reads_like_the_file(db, fieldcrm, tmp_path):
    assert fieldcrm("org", "load", write(tmp_path, COMPANY))[0] == 0
    code, dump, _ = fieldcrm("org", "dump")
    assert code == 0
    assert "name: 华东贸易" in dump and "王梅" in dump  # Chinese kept readable
    data = yaml.safe_load(dump)
    assert list(data) == ["units", "users", "channels", "pools", "holidays", "lose_reasons"]
    assert [u["name"] for u in data["units"]] == ["华东贸易", "Berlin GmbH"]
    company, berlin_unit = data["units"]
    assert company["children"][0] == {"name": "上海一组", "children": [{"name": "浦东"}]}
    # Only what differs from the defaults; the times as written, the fanfare in ascending order.
    assert company["visits"] == {"geofence_m": 300, "work_hours": "08:30-17:30", "grace_minutes": 10,
                                 "office": {"latitude": 31.2304, "longitude": 121.4737, "radius_m": 200}}
    assert company["announcements"] == {"announce_on": "collected", "fanfare": [10000, 50000]}
    # A unit with settings of its own that keep the defaults says so ({}); one without follows its parent.
    assert berlin_unit["children"] == [{"name": "Vertrieb", "visits": {"accuracy_max_m": 100}, "announcements": {}}]
    assert "visits" not in berlin_unit and "announcements" not in berlin_unit
    assert data["users"][3]["nudges"] == {"enabled": False, "visit_by": "10:30"}
    assert all("nudges" not in user for user in data["users"][:3])
    assert data["holidays"] == {"2026-10-01": "国庆节", "2026-10-02": "国庆节"}
    assert data["lose_reasons"] == {"price": "价格太高", "competitor": "选了竞争对手"}
    assert data["users"][2] == {"handle": "li", "name": "李雷", "unit": "浦东", "role": "rep", "manager": "mei",
                                "locale": "en", "timezone": "UTC"}
    telegram, slack = data["channels"]
    assert telegram["quiet_hours"] == "22:00-08:00"
    assert telegram["boards"] == {"time": "18:30", "periods": ["day", "month"], "top": 5, "weekends": True}
    assert slack == {"platform": "slack", "workspace": "T0123", "chat": "C0456", "unit": "华东贸易", "locale": "en",
                     "timezone": "UTC", "include_subunits": False,
                     "boards": {"weekly_on": "monday", "metric": "won_deals", "merge_seconds": 60}}
    pool, berlin = data["pools"]
    assert pool["members"] == {"units": ["上海一组", "杭州组"], "users": ["jan"]} and pool["admins"] == ["mei"]
    assert pool["rules"] == {"max_open_leads": 30, "daily_claim_limit": 10, "return_no_followup_days": 5,
                             "return_no_deal_days": None, "reclaim_cooldown_days": 0, "auto_distribute": True,
                             "levels": {"A": {"return_no_followup_days": 14},
                                        "B": {"return_no_followup_days": None, "return_no_deal_created_days": 20}}}
    assert berlin == {"name": "Berlin pool", "members": {"units": ["Berlin GmbH"]}}


def test_round_trip(db, fieldcrm, tmp_path):
    assert fieldcrm("org", "load", write(tmp_path, COMPANY))[0] == 0
    first = tmp_path / "first.yaml"
    code, _, err = fieldcrm("org", "dump", str(first))
    assert code == 0 and "first.yaml" in err
    # Loaded again into the same database: no new rows, no updates, not even an audit row.
    before, audited = row_counts(db), audit_rows(db)
    assert fieldcrm("org", "load", str(first))[0] == 0
    assert row_counts(db) == before and audit_rows(db) == audited
    # Into an empty database, then dumped again: the same text.
    empty_tables(db)
    assert fieldcrm("org", "load", str(first))[0] == 0
    code, second, _ = fieldcrm("org", "dump")
    assert second == first.read_text(encoding="utf-8")


def test_the_demo_org_round_trips_into_an_empty_database(db, fieldcrm, tmp_path):
    load_demo_org(db)
    code, dump, _ = fieldcrm("org", "dump")
    assert yaml.safe_load(dump)["pools"] == [{"name": "demo pool", "members": {"units": ["Acme Trading"]},
                                               "admins": ["mei"]}]
    empty_tables(db)
    assert fieldcrm("org", "load", write(tmp_path, dump))[0] == 0
    assert fieldcrm("org", "dump")[1] == dump
    assert fieldcrm("org", "load", write(tmp_path, dump))[0] == 0  # twice: nothing moves
    assert fieldcrm("org", "dump")[1] == dump
