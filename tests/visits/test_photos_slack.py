"""Visit photos through the real slack-bolt app: a file shared in the bot's DM (a message event with
subtype file_share) is downloaded from url_private with the bot token and attached to the visit."""
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest
from sqlalchemy import select

from db.models import VisitPhoto
from db.session import Database
from tests.fakes.slack_api import FakeSlackApi
from tests.platforms.slack_harness import Slack, running_slack, slack_settings_for
from tests.platforms.test_slack import link
from tests.visits.photo_images import NOT_AN_IMAGE, jpeg, picture
from tests.visits.test_visits import add_records

LI = "ULI"
EVENT_IDS = count(1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlackApi]:
    api = await FakeSlackApi().start()
    yield api
    await api.stop()


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    return tmp_path / "slack-photos"


@pytest.fixture
async def slack(db: Database, demo_org: Database, fake: FakeSlackApi, photo_dir: Path) -> AsyncIterator[Slack]:
    add_records(db)
    link(db, "li", LI)
    async with running_slack(db, slack_settings_for(db, fake, PHOTO_DIR=photo_dir), fake) as running:
        yield running


def share(file: dict, channel: str = f"D{LI}", text: str = "") -> dict:
    return {"type": "message", "subtype": "file_share", "channel": channel,
            "channel_type": "im" if channel.startswith("D") else "channel", "user": LI, "text": text,
            "files": [file], "ts": f"{time.time():.6f}"}


async def say(slack: Slack, event: dict) -> str:
    before = len(slack.fake.posts())
    assert (await slack.event(event, f"Ev{next(EVENT_IDS):05d}")).status == 200
    posts = await slack.answers(before + 1)
    return "\n".join(call.text for call in posts[before:])


def dm(text: str) -> dict:
    return {"type": "message", "channel": f"D{LI}", "channel_type": "im", "user": LI, "text": text,
            "ts": f"{time.time():.6f}"}


def photos(db: Database) -> list[VisitPhoto]:
    with db.uow() as uow:
        return list(uow.session.scalars(select(VisitPhoto).order_by(VisitPhoto.id)))


def stored(photo_dir: Path) -> list[Path]:
    return [p for p in photo_dir.rglob("*") if p.is_file()] if photo_dir.exists() else []


def camera_time(moment: datetime) -> str:
    return (moment + timedelta(hours=8)).strftime("%Y:%m:%d %H:%M:%S")


async def test_a_shared_file_is_downloaded_with_the_bot_token_and_attached(slack, db, fake, photo_dir):
    await say(slack, dm("visit c1"))
    content = jpeg(picture(21), camera_time(datetime.now(UTC)), "+08:00", gps=(30.243213, 120.150817))
    answer = await say(slack, share(fake.add_file(content)))
    assert "照片已附加到拜访 #1" in answer
    [photo] = photos(db)
    assert photo.sent_as == "file" and photo.reasons == [] and fake.downloads == ["FU0001"]
    [file] = stored(photo_dir)
    assert file.read_bytes() == content


async def test_a_reused_picture_and_a_time_outside_the_visit_are_flagged(slack, db, fake):
    await say(slack, dm("visit c1"))
    await say(slack, share(fake.add_file(jpeg(picture(22)))))
    await say(slack, dm("visit end"))
    await say(slack, dm("visit c2"))
    old = jpeg(picture(22).resize((500, 375)), camera_time(datetime.now(UTC) - timedelta(days=3)), "+08:00",
               quality=70)
    answer = await say(slack, share(fake.add_file(old)))
    assert "与拜访 #1 的照片是同一张图" in answer and "拍摄时间在拜访时段之外" in answer
    assert sorted(r["code"] for r in photos(db)[1].reasons) == ["photo_reused", "photo_time_outside"]


async def test_too_big_and_not_an_image_are_refused_and_nothing_is_written(slack, db, fake, photo_dir):
    await say(slack, dm("visit c1"))
    huge = fake.add_file(b"x" * 100, size=11 * 1024 * 1024)  # Slack says 11 MB: never fetched
    assert "文件太大" in await say(slack, share(huge))
    assert fake.downloads == []
    liar = fake.add_file(b"x" * 100, size=50)  # Slack says 50 bytes, which is a lie too: still no image
    assert "无法识别这个文件为照片" in await say(slack, share(liar))
    assert "无法识别这个文件为照片" in await say(slack, share(fake.add_file(NOT_AN_IMAGE, "scan.jpg")))
    assert photos(db) == [] and stored(photo_dir) == []


async def test_a_file_shared_in_a_channel_is_refused_and_not_downloaded(slack, db, fake):
    await say(slack, dm("visit c1"))
    mention = {**share(fake.add_file(jpeg(picture(23))), channel="C0001", text="<@UBOT>"), "type": "app_mention"}
    mention.pop("subtype")
    answer = await say(slack, mention)
    assert "请在私聊中把拜访照片发给我" in answer
    assert fake.downloads == [] and photos(db) == []
