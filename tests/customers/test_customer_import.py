"""`fieldcrm import customers FILE.csv`, as an admin runs it on the demo org: Chinese headers in
GB18030 and English ones in UTF-8; the owners, places, pinned tiers and contacts the reps then meet
in /customer, /nearby, /plan and the birthday reminder; duplicates, other reps' leads and bad rows
reported, and nothing of a refused row written."""
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bot.adapters.console import ConsoleAdapter
from bot.bootstrap import build_router
from bot.jobs.care import send_care
from db.base import utcnow
from db.models import AuditEntry, Contact, Customer, OutboxMessage, User
from tests.conftest import posted, say
from tests.core.conftest import fieldcrm  # noqa: F401  (the real `fieldcrm` entry on the test database)
from tests.customers.conftest import load

# People's Square (the East Team's office) and four Shanghai places around it (tests/plans/test_routes.py).
OFFICE = ("units:\n  - name: East Team\n    parent: Acme Trading\n"
          "    visits: {office: {latitude: 31.2304, longitude: 121.4737, radius_m: 200}}\n")
CHINESE = (
    "客户名称,负责人,联系人,电话,地区,纬度,经度,客户分级,生日,语言\n"
    "虹桥物流有限公司,li,周敏,021-6268 0001,华东,31.1979,121.3363,A,12-15,zh\n"
    "陆家嘴金融,li,,,华东,31.2397,121.4998,A,,\n"
    "徐家汇商城,LI,,,,31.1940,121.4360,A,,\n"
    "静安寺餐饮,li,,,,31.2235,121.4452,A,,\n"
    "远郊农场,li,,,,31.0000,121.2000,E,,\n"
    "没有分级的店,li,,,,,,,,\n"
    "坏坐标公司,li,,,,91,121.5,A,,\n"
    "只有纬度,li,,,,31.2,,,,\n"
    "坏分级公司,li,,,,,,Z,,\n"
    "陌生人的客户,ghost,,,,,,,,\n"
    ",li,,,,,,,,\n"
    "没有联系人的生日,li,,,,,,,03-15,\n"
)
ENGLISH = (
    "Company Name,Owner,Contact,Mobile,Industry,Latitude,Longitude,Tier,Birthday,Language\n"
    "Acme Robotics GmbH,,Eva Braun,+49 30 1234567,robots,52.52,13.405,b,1980-03-15,en\n"
    "Northwind Traders,mei,Tom,,food,,,,02-30,\n"
    "Contoso Ltd,,,,,,,,,\n"
)


def write(tmp_path, name: str, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def customers(db) -> dict[str, Customer]:
    with db.uow() as uow:
        return {c.name: c for c in uow.session.scalars(select(Customer).order_by(Customer.id))}


def counted(db, model) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


def clocked(db, settings, handle: str, now: datetime) -> ConsoleAdapter:
    return ConsoleAdapter(build_router(db, settings, clock=lambda: now), handle, clock=lambda: now)


def test_a_gb18030_file_with_chinese_headers_brings_owners_places_tiers_and_contacts(console, db, fieldcrm,  # noqa: F811
                                                                                      tmp_path):
    code, out, err = fieldcrm("import", "customers", write(tmp_path, "客户.csv", CHINESE, "gb18030"))
    assert code == 0, err
    assert "Customers imported from 客户.csv (GB18030)" in out
    assert "created 6 (5 with a place, 5 with a pinned tier, 1 contact), duplicates 0, refused 6." in out
    assert 'row 8: refused, the latitude or longitude is not a valid position; 纬度, 经度: "91, 121.5" (坏坐标公司)' in out
    assert 'row 9: refused, the latitude or longitude is not a valid position; 纬度, 经度: "31.2, "' in out
    assert 'row 10: refused, the tier is not one of A, B, C, D, E; 客户分级: "Z" (坏分级公司)' in out
    assert 'row 11: refused, no user has this handle; 负责人: "ghost" (陌生人的客户)' in out
    assert "row 12: refused, no customer name; 客户名称: empty" in out
    assert 'row 13: refused, a birthday or language needs a contact name; 生日: "03-15"' in out
    found = customers(db)
    assert list(found) == ["虹桥物流有限公司", "陆家嘴金融", "徐家汇商城", "静安寺餐饮", "远郊农场", "没有分级的店"]
    with db.uow() as uow:
        li = uow.session.scalar(select(User).where(User.handle == "li"))
        assert {c.owner_id for c in found.values()} == {li.id}
    hongqiao = found["虹桥物流有限公司"]
    assert (hongqiao.status, hongqiao.name_key, hongqiao.phone_key, hongqiao.region) == (
        "active", "虹桥物流", "+862162680001", "华东")
    assert (hongqiao.latitude, hongqiao.longitude, hongqiao.location_source, hongqiao.location_trust) == (
        31.1979, 121.3363, "import", "trusted")
    assert (hongqiao.tier_pinned, hongqiao.tier_pin_reason) == ("A", "import")
    assert found["没有分级的店"].tier_pinned is None and found["没有分级的店"].latitude is None
    with db.uow() as uow:
        audited = dict(uow.session.execute(select(AuditEntry.record_type, func.count()).where(
            AuditEntry.action == "create", AuditEntry.record_type.in_(("customer", "contact")))
            .group_by(AuditEntry.record_type)).all())
    assert audited == {"customer": 6, "contact": 1}
    say(console, "/as li")
    say(console, "/lang en")
    shown = say(console, f"/customer c{hongqiao.id}")
    assert "Tier: A (pinned: import)" in shown and "Location: confirmed" in shown
    assert "周敏 · 021-6268 0001 · birthday 12-15 · Chinese" in shown


def test_a_utf8_file_with_english_headers_and_a_default_owner(console, db, fieldcrm, tmp_path):  # noqa: F811
    code, out, err = fieldcrm("import", "customers", write(tmp_path, "customers.csv", ENGLISH), "--owner", "sam")
    assert code == 0, err
    assert "Customers imported from customers.csv (UTF-8)" in out
    assert "created 2 (1 with a place, 1 with a pinned tier, 1 contact), duplicates 0, refused 1." in out
    assert ('row 3: refused, the birthday is not a date (MM-DD or YYYY-MM-DD); Birthday: "02-30" (Northwind Traders)'
            in out)
    found = customers(db)
    assert list(found) == ["Acme Robotics GmbH", "Contoso Ltd"]
    assert found["Acme Robotics GmbH"].tier_pinned == "B" and found["Acme Robotics GmbH"].industry == "robots"
    say(console, "/as sam")
    assert "Eva Braun · +49 30 1234567 · birthday 03-15 · English" in say(
        console, f"/customer {found['Acme Robotics GmbH'].id}")


def test_after_the_import_the_rep_finds_his_customers_nearby_and_his_plan_routes_the_due_ones(
        db, settings, fieldcrm, tmp_path, demo_org):  # noqa: F811
    load(db, OFFICE)
    assert fieldcrm("import", "customers", write(tmp_path, "客户.csv", CHINESE, "gb18030"))[0] == 0
    ids = {name: c.id for name, c in customers(db).items()}
    now = utcnow()
    li = clocked(db, settings, "li", now)
    say(li, "/lang en")
    say(li, "/nearby 20km")
    near = say(li, "/location 31.2304 121.4737 10")
    order = ["陆家嘴金融", "静安寺餐饮", "徐家汇商城", "虹桥物流有限公司"]
    assert [near.index(f"customer c{ids[name]} {name}") for name in order] == sorted(
        near.index(f"customer c{ids[name]} {name}") for name in order)
    assert "远郊农场" not in near  # 28 km away
    # Tier A is due every 7 days from the day he became a customer: overdue two weeks later.
    later = clocked(db, settings, "li", now + timedelta(days=15))
    plan = say(later, "/plan")
    assert "Route:" in plan and "from the office" in plan
    for number, name in enumerate(order, start=1):
        assert f"{number}. {name} (c{ids[name]}) · due a visit" in plan
    assert "远郊农场" not in plan and "没有分级的店" not in plan  # E has no cadence; no tier is never due


def test_an_imported_contacts_birthday_reaches_the_owner_the_day_before(db, settings, fieldcrm, tmp_path,  # noqa: F811
                                                                        demo_org):
    assert fieldcrm("import", "customers", write(tmp_path, "客户.csv", CHINESE, "gb18030"))[0] == 0
    hongqiao = customers(db)["虹桥物流有限公司"]
    eve = datetime(2026, 12, 14, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai, the day before 12-15
    assert send_care(db, eve, settings) == 1
    with db.uow() as uow:
        [message] = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "direct")).all()
        li = uow.session.scalar(select(User).where(User.handle == "li"))
        assert message.dedupe_key == f"care:{li.id}:2026-12-14"  # li, the owner, on his 14 December
        text = posted(message).text
    assert f"明天是 周敏(虹桥物流有限公司,c{hongqiao.id})的生日" in text


def test_duplicates_and_other_reps_leads_are_skipped_and_reported(console, db, fieldcrm, tmp_path):  # noqa: F811
    assert fieldcrm("import", "customers", write(tmp_path, "first.csv", "name,owner\nExisting Co,li\n"))[0] == 0
    say(console, "/as sam")
    say(console, "/claim 2")  # 杭州云杉科技股份有限公司, now Sam's
    say(console, "/as li")
    say(console, "/claim 3")  # 北京长城机械集团, now Li's
    with db.uow() as uow:
        uow.session.execute(update(User).where(User.handle == "zhang").values(active=False))
        uow.commit()
    text = ("name,owner,phone\n"
            "杭州云杉科技,li,\n"              # lead #2, held by Sam
            "北京长城机械,li,\n"              # lead #3, held by Li himself: he may have it as a customer
            "上海星河贸易,li,\n"              # lead #1, still in the pool
            "\"EXISTING CO., LTD.\",mei,\n"  # customer #1
            "北京长城机械集团有限公司,li,\n"  # row 3 again
            "New Phone Co,li,0571-8888 1234\n"  # lead #2's phone, held by Sam
            "Quiet Co,zhang,\n")            # an inactive owner
    before = counted(db, Customer)
    code, out, err = fieldcrm("import", "customers", write(tmp_path, "second.csv", text))
    assert code == 0, err
    assert "created 2 (0 with a place, 0 with a pinned tier, 0 contacts), duplicates 4, refused 1." in out
    assert "row 2: skipped, lead #2 is held by Sam Carter (杭州云杉科技)" in out
    assert "row 5: skipped, duplicate of customer #1 (EXISTING CO., LTD.)" in out
    assert "row 6: skipped, duplicate of row 3 (北京长城机械集团有限公司)" in out
    assert "row 7: skipped, lead #2 is held by Sam Carter (New Phone Co)" in out
    assert 'row 8: refused, this user is no longer active; owner: "zhang" (Quiet Co)' in out
    after = customers(db)
    assert list(after)[before:] == ["北京长城机械", "上海星河贸易"]
    with db.uow() as uow:
        li = uow.session.scalar(select(User).where(User.handle == "li"))
        assert after["北京长城机械"].owner_id == li.id


def test_strict_imports_nothing_when_one_row_is_refused(db, fieldcrm, tmp_path, demo_org):  # noqa: F811
    path = write(tmp_path, "customers.csv", "name,owner,tier\nGood Co,li,A\nBad Tier Co,li,F\n")
    code, out, _ = fieldcrm("import", "customers", path, "--strict")
    assert code == 1
    assert "Nothing was imported from customers.csv (UTF-8): with --strict" in out
    assert 'row 3: refused, the tier is not one of A, B, C, D, E; tier: "F" (Bad Tier Co)' in out
    assert counted(db, Customer) == 0 and counted(db, Contact) == 0
    assert fieldcrm("import", "customers", path)[0] == 0 and list(customers(db)) == ["Good Co"]


def test_a_file_the_import_cannot_use_is_refused_in_one_line(db, fieldcrm, tmp_path, demo_org):  # noqa: F811
    no_owner = write(tmp_path, "a.csv", "name,phone\nGood Co,\n")
    code, _, err = fieldcrm("import", "customers", no_owner)
    assert code == 2 and "a.csv has no owner column" in err and "--owner HANDLE" in err
    code, _, err = fieldcrm("import", "customers", no_owner, "--owner", "nobody")
    assert code == 2 and "--owner nobody is not the handle of any user" in err
    code, _, err = fieldcrm("import", "customers", write(tmp_path, "b.csv", "owner,phone\nli,1\n"))
    assert code == 2 and "b.csv has no customer name column" in err
    code, _, err = fieldcrm("import", "customers", str(tmp_path / "missing.csv"))
    assert code == 2 and "missing.csv cannot be read" in err
    assert counted(db, Customer) == 0
