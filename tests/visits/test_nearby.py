"""/nearby: the rep's customers and the pool leads he may claim around him, nearest first, measured
from his last position (15 minutes at most) or from the next one he shares; through the console,
the real Telegram adapter and the real Slack app."""
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from telegram import Update

from bot.adapters.telegram.inbound import to_incoming
from bot.adapters.telegram.outbound import plan_messages
from bot.bootstrap import build_router
from bot.services.leads.imports import import_leads
from db.models import AuditEntry, Customer, CustomerLocationRequest, Lead
from db.session import Database
from tests.conftest import say
from tests.core.test_org_file_settings import load
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import callback_update, location_update, text_update
from tests.platforms.slack_harness import Slack, running_slack, slack_settings_for
from tests.platforms.telegram_harness import link_telegram
from tests.platforms.test_slack import link
from tests.visits.test_visits import PEOPLES_SQUARE, START, Clock, clocked_console, user_id

WORKSPACE = "123"
LI_TG = 555
LI_SLACK = "ULI"
SQUARE_LAT, SQUARE_LON = PEOPLES_SQUARE  # 人民广场, Shanghai
# By hand: a degree of latitude is 111,195 m (mean Earth radius 6,371,008.8 m); a degree of longitude
# there 111,195 m × cos 31.2304° = 95,079 m. So 0.0045° north is 500 m, 0.01° east 951 m.
POOLS = """\
pools:
  - name: East pool
    members: {units: [East Team]}
  - name: West pool
    members: {units: [West Team]}
"""
LEADS = """company,phone,lat,lon
Square Noodles,13800000001,31.2324,121.4737
Nanjing Road Teas,13800000002,31.2304,121.4937
Far Away Farm,13800000003,31.3304,121.4737
Claimed Cafe,13800000004,31.2314,121.4737
"""
WEST_LEADS = "company,phone,lat,lon\nWest Side Bikes,13800000005,31.2305,121.4738\n"


def add_customer(db: Database, handle: str, name: str, lat: float, lon: float, status: str = "active") -> int:
    with db.uow() as uow:
        customer = Customer(name=name, name_key=name.lower().replace(" ", ""), owner_id=user_id(db, handle),
                            latitude=lat, longitude=lon, location_source="import", location_trust="trusted",
                            status=status)
        uow.session.add(customer)
        uow.commit()
        return customer.id


def lead_id(db: Database, company: str) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(Lead.id).where(Lead.company == company))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def town(db, demo_org, settings, clock) -> dict[str, int]:
    """Around People's Square: li's customers north (500 m), east (951 m) and 11 km south, a voided
    one, zhang's customer 67 m off; East pool leads (li's pool) 222 m north, 1.9 km east and 11 km
    north, and one 111 m off that zhang claimed; a West pool lead 14 m off."""
    load(db, POOLS)
    with db.uow() as uow:
        import_leads(uow, LEADS.encode(), "east.csv", "East pool", START)
        import_leads(uow, WEST_LEADS.encode(), "west.csv", "West pool", START)
        uow.commit()
    assert "Claimed Cafe" in say(clocked_console(db, settings, clock, "zhang"), f"/claim {lead_id(db, 'Claimed Cafe')}")
    return {
        "north": add_customer(db, "li", "North Gate Store", SQUARE_LAT + 0.0045, SQUARE_LON),
        "east": add_customer(db, "li", "East Wing Mall", SQUARE_LAT, SQUARE_LON + 0.01),
        "far": add_customer(db, "li", "Hongqiao Depot", SQUARE_LAT - 0.1, SQUARE_LON),
        "voided": add_customer(db, "li", "Closed Kiosk", SQUARE_LAT + 0.001, SQUARE_LON, status="voided"),
        "colleague": add_customer(db, "zhang", "Zhang's Corner Shop", SQUARE_LAT + 0.0006, SQUARE_LON),
    }


@pytest.fixture
def li(db, settings, town, clock):
    console = clocked_console(db, settings, clock)
    say(console, "/lang en")
    return console


def requests(db: Database) -> list[tuple]:
    with db.uow() as uow:
        return [tuple(row) for row in uow.session.execute(
            select(CustomerLocationRequest.customer_id, CustomerLocationRequest.radius_m, CustomerLocationRequest.status)
            .order_by(CustomerLocationRequest.id))]


def audit_rows(db: Database) -> int:
    with db.uow() as uow:
        return len(uow.session.scalars(select(AuditEntry.id)).all())


def listed(answer: str) -> list[str]:
    return [line for line in answer.splitlines() if line[:1].isdigit()]


def test_without_a_recent_position_it_asks_and_the_next_location_answers_nearest_first(li, db, town):
    asked = say(li, "/nearby")
    assert "Where are you?" in asked and "/location LAT LON" in asked and "within 2 km" in asked
    answer = say(li, f"/location {SQUARE_LAT} {SQUARE_LON} 10")
    assert listed(answer) == [
        f"1. 222 m · pool lead #{lead_id(db, 'Square Noodles')} Square Noodles (East pool)",
        f"2. 500 m · customer c{town['north']} North Gate Store",
        f"3. 951 m · customer c{town['east']} East Wing Mall",
        f"4. 1.9 km · pool lead #{lead_id(db, 'Nanjing Road Teas')} Nanjing Road Teas (East pool)",
    ]
    # Nothing of the colleague's customer, a voided one, a claimed lead, another pool's, or beyond 2 km.
    for hidden in ("Zhang's Corner Shop", "Closed Kiosk", "Claimed Cafe", "West Side Bikes", "Hongqiao", "Far Away"):
        assert hidden not in answer
    assert requests(db) == [(None, 2000, "done")]
    assert "Where are you?" in say(li, "/nearby")  # a position that answered /nearby is pinned nowhere


def test_the_newest_ask_wins_and_share_location_asks_again_for_it(li, db, town):
    say(li, f"/setloc c{town['north']}")
    say(li, "/nearby 5km")
    assert "Where are you?" in say(li, "/share_location") and "within 5 km" in say(li, "/share_location")
    assert "Near you, within 5 km" in say(li, f"/location {SQUARE_LAT} {SQUARE_LON} 10")
    assert requests(db) == [(town["north"], None, "replaced"), (None, 5000, "done")]
    with db.uow() as uow:  # the /setloc it replaced moved nothing
        assert uow.session.get(Customer, town["north"]).latitude == SQUARE_LAT + 0.0045


def test_a_wider_radius_reaches_farther(li, db, town):
    say(li, "/nearby 12km")
    wide = say(li, f"/location {SQUARE_LAT} {SQUARE_LON} 10")
    assert "within 12 km" in wide and "11.1 km · pool lead" in wide and "11.1 km · customer" in wide
    assert "Zhang's Corner Shop" not in wide and "West Side Bikes" not in wide


def test_a_position_vaguer_than_the_radius_lists_nothing_and_the_ask_still_waits(li, db):
    say(li, "/nearby")
    vague = say(li, f"/location {SQUARE_LAT} {SQUARE_LON} 5000")
    assert "known only to within 5000 m, more than the 2 km" in vague and "Square Noodles" not in vague
    assert requests(db) == [(None, 2000, "waiting")]
    assert "Square Noodles" in say(li, f"/location {SQUARE_LAT} {SQUARE_LON} 900")  # 900 m: within the radius


def test_the_list_is_cut_to_the_nearest_twenty_and_says_how_many_more(li, db):
    for step in range(25):  # 11 m apart northwards
        add_customer(db, "li", f"Stall {step:02d}", SQUARE_LAT + 0.0001 * (step + 1), SQUARE_LON)
    say(li, "/nearby 300m")
    answer = say(li, f"/location {SQUARE_LAT} {SQUARE_LON} 10")
    assert len(listed(answer)) == 20 and listed(answer)[-1].startswith("20. 222 m · customer")
    assert "Stall 19" in answer and "Stall 20" not in answer
    assert "…and 6 more" in answer  # five stalls and the pool lead, all as far as the 20th or farther


def test_a_position_from_a_visit_within_15_minutes_answers_at_once(li, db, town, clock):
    say(li, f"/visit c{town['north']}")
    say(li, f"/location {SQUARE_LAT + 0.0045} {SQUARE_LON} 10")
    clock.advance(minutes=10)
    answer = say(li, "/nearby 1km")
    assert "Where are you?" not in answer
    assert listed(answer)[0] == f"1. 0 m · customer c{town['north']} North Gate Store"
    assert "Square Noodles" in answer and "East Wing Mall" not in answer  # 1.1 km from the store
    clock.advance(minutes=6)
    assert "Where are you?" in say(li, "/nearby 1km")


@pytest.mark.parametrize("radius", ["0", "500km", "abc", "-2", "0.2m"])
def test_a_radius_of_nothing_or_too_far_is_refused_and_nothing_is_written(li, db, radius):
    before = (requests(db), audit_rows(db))
    answer = say(li, f"/nearby {radius}")
    assert f'"{radius}" is not a radius /nearby can use' in answer and "1 m to 50 km" in answer
    assert (requests(db), audit_rows(db)) == before


def test_radii_in_metres_kilometres_and_chinese_units(li):
    for typed, shown in (("800m", "800 m"), ("1.5", "1.5 km"), ("3公里", "3 km"), ("２ｋｍ", "2 km")):
        assert f"within {shown}" in say(li, f"/nearby {typed}")


def test_a_manager_sees_the_customers_of_his_scope(db, settings, town, clock):
    mei = clocked_console(db, settings, clock, "mei")
    say(mei, "/lang en")
    say(mei, "/nearby")
    answer = say(mei, f"/location {SQUARE_LAT} {SQUARE_LON} 10")
    assert "Zhang's Corner Shop" in answer and "North Gate Store" in answer


# --- through the real Telegram adapter -----------------------------------------------------------

@pytest.fixture
def tg(db, settings, town):
    link_telegram(db, "li", LI_TG, WORKSPACE)
    router = build_router(db, settings)

    def send(update: dict):
        incoming = to_incoming(Update.de_json(update, None), WORKSPACE, "fieldcrm_bot")
        assert incoming is not None
        return router.handle(incoming)

    return send


def test_telegram_asks_with_the_share_button_and_the_shared_location_lists_with_buttons_in_chinese(tg, db, town):
    [asked] = tg(text_update("/nearby"))
    assert asked.request_location and "你在哪里" in (asked.title or "") and "发送我的位置" in asked.text
    assert any(m.markup is not None and "request_location" in str(m.markup.to_dict())
               for m in plan_messages(asked, private=True, locale="zh"))
    [answer] = tg(location_update(SQUARE_LAT, SQUARE_LON, accuracy=12))
    assert answer.title == "你附近 2公里 以内"
    assert "222米 · 公海线索" in answer.text and "500米 · 客户" in answer.text and "1.9公里" in answer.text
    noodles, teas = lead_id(db, "Square Noodles"), lead_id(db, "Nanjing Road Teas")
    assert [(b.label, b.payload) for b in answer.buttons] == [
        (f"领取 #{noodles}", f"claim {noodles}"), (f"拜访 c{town['north']}", f"visit c{town['north']}"),
        (f"拜访 c{town['east']}", f"visit c{town['east']}"), (f"领取 #{teas}", f"claim {teas}"),
    ]
    [claimed] = tg(callback_update(f"claim {noodles}"))
    assert "Square Noodles" in claimed.text


def test_telegram_answers_at_once_from_a_check_in_ten_minutes_old(tg, db):
    tg(text_update("/checkin"))
    tg(location_update(SQUARE_LAT, SQUARE_LON, accuracy=12, date=int(time.time()) - 600))
    [answer] = tg(text_update("/nearby 600m"))
    assert not answer.request_location and "500米 · 客户" in answer.text and "951米" not in answer.text


def test_telegram_bad_radius_in_chinese(tg, db):
    [refused] = tg(text_update("/nearby 500km"))
    assert '"500km"不是可用的半径' in refused.text and not refused.request_location
    assert requests(db) == []


# --- Slack --------------------------------------------------------------------------------------

@pytest.fixture
async def slack(db: Database, town) -> AsyncIterator[Slack]:
    fake = await FakeSlackApi().start()
    link(db, "li", LI_SLACK)
    try:
        async with running_slack(db, slack_settings_for(db, fake), fake) as running:
            yield running
    finally:
        await fake.stop()


async def test_slack_asks_for_the_position_with_the_check_in_page(slack, db):
    await slack.command("nearby", LI_SLACK, f"D{LI_SLACK}")
    [post] = await slack.answers()
    assert "你在哪里?" in post.text and "打开签到页面" in post.text
    (url,) = [e["url"] for b in post.payload["blocks"] if b["type"] == "actions" for e in b["elements"] if "url" in e]
    assert "/checkin/" in url  # the whole way through the page: tests/visits/test_checkin_requests.py
