"""Win announcements: content per channel language, milestones, fanfare, merging, quiet hours, collected mode."""
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from db.models import OrgUnit, OutboxMessage, TeamChannel
from db.models.board import ChannelBoardSettings, UnitAnnouncementSettings
from tests.conftest import posted, say
from tests.deals.test_deals import add_customer


def posts(db, kind="win"):
    with db.uow() as uow:
        return list(uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)
                                        .order_by(OutboxMessage.id)))


def deliver(db):
    """What the dispatcher does: take every waiting post (so the next win starts a new one)."""
    with db.uow() as uow:
        uow.session.execute(OutboxMessage.__table__.update().values(status="sent", attempts=1))
        uow.commit()


def set_channel(db, **values):
    with db.uow() as uow:
        channel = uow.session.scalar(select(TeamChannel).where(TeamChannel.chat_id == "#sales"))
        for key, value in values.items():
            setattr(channel, key, value)
        uow.commit()
        return channel.id


def add_channel(db, unit: str, chat: str, locale: str) -> None:
    with db.uow() as uow:
        unit_id = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == unit))
        uow.session.add(TeamChannel(platform="telegram", workspace="bot", chat_id=chat, name=chat, unit_id=unit_id,
                                    locale=locale, timezone="Asia/Shanghai", include_subunits=True))
        uow.commit()


def test_announcement_in_each_channels_language_with_total_rank_and_target(console, db):
    add_channel(db, "East Team", "-100east", "zh")
    add_customer(db, "li", "Shanghai Steel")
    say(console, "/as mei")
    say(console, "/target set li month won_amount 100000")
    say(console, "/as li")
    say(console, "/newdeal steel 40000")
    say(console, "/win 1")
    by_chat = {p.chat_id: posted(p).text for p in posts(db)}
    assert "won 40,000.00 CNY from Shanghai Steel" in by_chat["#sales"]
    assert "Month total 40,000.00 CNY, rank 1 of 1, target 40.0% of 100,000.00" in by_chat["#sales"]
    assert "拿下 Shanghai Steel 40,000.00 CNY" in by_chat["-100east"]
    assert "本月累计 40,000.00 CNY,排名 1/1,目标达成率 40.0%" in by_chat["-100east"]


def test_milestones_personal_best_biggest_and_target_reached(console, db):
    add_customer(db, "li", "Shanghai Steel")
    add_customer(db, "zhang", "Hangzhou Tea")
    say(console, "/as mei")
    say(console, "/target set li month won_amount 100000")
    say(console, "/as zhang")
    say(console, "/newdeal tea 30000")
    say(console, "/win 1")
    say(console, "/as li")
    say(console, "/newdeal steel 20000")
    say(console, "/newdeal steel 90000")
    assert "人生第一单" in say(console, "/win 2")
    deliver(db)
    out = say(console, "/win 3")
    assert "个人最佳" in out and "团队本月最大单" in out and "本月目标达成" in out
    texts = [posted(p).text for p in posts(db)]
    assert "Personal best" in texts[-1] and "Month target reached" in texts[-1] and "First deal" not in texts[-1]


def test_fanfare_scales_with_unit_thresholds(console, db):
    add_customer(db, "sam", "Berlin Motors")
    with db.uow() as uow:
        unit_id = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "West Team"))
        uow.session.add(UnitAnnouncementSettings(unit_id=unit_id, announce_on="won", fanfare_thresholds=[1000, 5000]))
        uow.commit()
    say(console, "/as sam")
    say(console, "/newdeal motors 500")
    say(console, "/newdeal motors 6000")
    say(console, "/win 1")
    deliver(db)
    say(console, "/win 2")
    small, big = [posted(p).text for p in posts(db)]
    assert small.startswith("🎉 Sam") and big.startswith("🎉🎉🎉 Sam")


def test_three_wins_in_the_window_become_one_post(console, db):
    channel_id = set_channel(db)
    with db.uow() as uow:
        uow.session.add(ChannelBoardSettings(channel_id=channel_id, merge_seconds=60))
        uow.commit()
    for rep, name in (("li", "Shanghai Steel"), ("zhang", "Hangzhou Tea"), ("sam", "Berlin Motors")):
        add_customer(db, rep, name)
    for n, rep in enumerate(("li", "zhang", "sam"), start=1):
        say(console, f"/as {rep}")
        say(console, f"/newdeal c{n} {n}000")
        say(console, f"/win {n}")
    [post] = posts(db)
    text = posted(post).text
    assert "3 wins" in posted(post).title
    assert "Shanghai Steel" in text and "Hangzhou Tea" in text and "Berlin Motors" in text
    assert post.next_attempt_at > datetime.now(UTC) + timedelta(seconds=30)


def test_a_post_already_sent_is_not_merged_into(console, db):
    for rep, name in (("li", "Shanghai Steel"), ("sam", "Berlin Motors")):
        add_customer(db, rep, name)
    say(console, "/as li")
    say(console, "/newdeal c1 1000")
    say(console, "/win 1")
    deliver(db)
    say(console, "/as sam")
    say(console, "/newdeal c2 2000")
    say(console, "/win 2")
    first, second = posts(db)
    assert "Berlin Motors" not in posted(first).text and "Berlin Motors" in posted(second).text


def test_quiet_hours_hold_the_post_until_they_end(console, db):
    local = datetime.now(UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    minute = local.hour * 60 + local.minute
    set_channel(db, quiet_start=(minute - 30) % 1440, quiet_end=(minute + 90) % 1440)
    add_customer(db, "sam", "Berlin Motors")
    say(console, "/as sam")
    say(console, "/newdeal c1 1000")
    say(console, "/win 1")
    [post] = posts(db)
    wait = post.next_attempt_at - datetime.now(UTC)
    assert timedelta(minutes=85) < wait <= timedelta(minutes=91)


def test_unit_that_announces_on_collected_waits_for_the_money(console, db):
    with db.uow() as uow:
        root = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "Acme Trading"))
        uow.session.add(UnitAnnouncementSettings(unit_id=root, announce_on="collected", fanfare_thresholds=[]))
        uow.commit()
    add_customer(db, "sam", "Berlin Motors")
    say(console, "/as sam")
    say(console, "/newdeal c1 10000")
    assert "celebrates on payment" in say(console, "/win 1")
    assert posts(db) == []
    say(console, "/paid 1 4000")
    [post] = posts(db)
    assert "Sam Carter collected 4,000.00 CNY from Berlin Motors" in posted(post).text
    assert "Month total 4,000.00" in posted(post).text
    deliver(db)
    say(console, "/paid 1 1000")
    assert "Month total 5,000.00" in posted(posts(db)[-1]).text
    assert "collected" in say(console, "/rank").lower() or "回款" in say(console, "/rank")
