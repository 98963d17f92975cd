"""Visit photos through the real Telegram adapter (webhook, python-telegram-bot) against the fake
Bot API: a compressed photo, an image sent as a file with its EXIF, reuse, bad files, a group chat,
and the manager's review and /photos."""
import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.router import Router
from db.models import AuditEntry, PlatformIdentity, VisitPhoto
from db.session import Database
from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    callback_update,
    document_update,
    location_update,
    photo_update,
)
from tests.platforms.telegram_harness import TOKEN, WebhookBot, link_telegram, running_webhook
from tests.visits.photo_images import NOT_AN_IMAGE, jpeg, picture, png
from tests.visits.test_visits import NEAR_WEST_LAKE, add_records, user_id, visits_of

WORKSPACE = "123"
LI, MEI = 555, 666
SHANGHAI = "+08:00"


@pytest.fixture
def photo_dir(settings) -> Path:
    return settings.PHOTO_DIR


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramAPI]:
    fake = await FakeTelegramAPI(token=TOKEN).start()
    yield fake
    await fake.close()


@pytest.fixture
async def bot(db: Database, demo_org: Database, router: Router, api: FakeTelegramAPI) -> AsyncIterator[WebhookBot]:
    add_records(db)
    for handle, tg in (("li", LI), ("mei", MEI)):
        link_telegram(db, handle, tg, WORKSPACE)
    async with running_webhook(db, router, api) as running:
        yield running


async def send(bot: WebhookBot, update: dict, chat_id: int = LI) -> str:
    """Post one update; the bot's answer in that chat."""
    before = len(bot.api.texts(chat_id))
    assert await bot.post(update) == 200
    deadline = time.monotonic() + 10
    while len(bot.api.texts(chat_id)) <= before:
        assert time.monotonic() < deadline, f"no answer in chat {chat_id}"
        await asyncio.sleep(0.02)
    return "\n".join(bot.api.texts(chat_id)[before:])


def exif_time(moment: datetime) -> str:
    """A camera's local time in Shanghai."""
    return (moment + timedelta(hours=8)).strftime("%Y:%m:%d %H:%M:%S")


def photos(db: Database) -> list[VisitPhoto]:
    with db.uow() as uow:
        return list(uow.session.scalars(select(VisitPhoto).order_by(VisitPhoto.id)))


def stored_files(photo_dir: Path) -> list[Path]:
    return sorted(p for p in photo_dir.rglob("*") if p.is_file()) if photo_dir.exists() else []


async def start_visit(bot: WebhookBot, pin: bool = True) -> None:
    await bot.say("/visit c1", chat_id=LI)
    if pin:
        assert "已核验" in await send(bot, location_update(*NEAR_WEST_LAKE, accuracy=10))


async def test_a_compressed_photo_attaches_with_a_neutral_note(bot, db, photo_dir):
    await start_visit(bot)
    content = jpeg(picture(1), quality=80)
    bot.api.add_file("p1", content)
    answer = await send(bot, photo_update("p1", len(content)))
    assert "照片已附加到拜访 #1" in answer and "无 EXIF:以照片形式发送" in answer
    [photo] = photos(db)
    assert (photo.visit_id, photo.sent_as, photo.mime, photo.size_bytes) == (1, "photo", "image/jpeg", len(content))
    assert [r["severity"] for r in photo.reasons] == ["note"]
    [stored] = stored_files(photo_dir)
    assert stored.name == f"{photo.sha256}.jpg" and stored.read_bytes() == content
    assert visits_of(db, "li")[0].verdict == "verified"  # a note does not flag
    with db.uow() as uow:
        assert uow.session.scalar(select(AuditEntry).where(AuditEntry.record_type == "visit_photo",
                                                           AuditEntry.record_id == photo.id)) is not None


async def test_a_file_with_exif_inside_the_visit_and_the_geofence_is_clean(bot, db):
    await start_visit(bot)
    content = jpeg(picture(2), exif_time(datetime.now(UTC)), SHANGHAI, gps=(30.243318, 120.150923))
    bot.api.add_file("d1", content)
    answer = await send(bot, document_update("d1", len(content)))
    assert "照片已附加" in answer and "说明" not in answer
    [photo] = photos(db)
    assert photo.reasons == [] and photo.sent_as == "file"
    assert abs(photo.exif_latitude - 30.243318) < 1e-6 and photo.exif_taken_at is not None


async def test_exif_time_outside_the_visit_flags_the_photo_and_the_visit(bot, db):
    await start_visit(bot)
    yesterday = jpeg(picture(3), exif_time(datetime.now(UTC) - timedelta(hours=26)), SHANGHAI)
    bot.api.add_file("d2", yesterday)
    answer = await send(bot, document_update("d2", len(yesterday)))
    assert "拍摄时间在拜访时段之外" in answer and "该拜访已被标记" in answer
    [photo] = photos(db)
    assert [r["code"] for r in photo.reasons] == ["photo_time_outside"]
    [visit] = visits_of(db, "li")
    assert (visit.verdict, visit.counts) == ("flagged", False) and visit.reasons[-1]["code"] == "photo_flagged"


async def test_a_doubtful_photo_sent_before_the_location_flags_the_visit_once_pinned(bot, db):
    await start_visit(bot, pin=False)
    old = jpeg(picture(12), exif_time(datetime.now(UTC) - timedelta(days=2)), SHANGHAI)
    bot.api.add_file("w", old)
    answer = await send(bot, document_update("w", len(old)))
    assert "照片已被标记" in answer and "该拜访已被标记" not in answer
    assert visits_of(db, "li")[0].verdict == "unverified"
    assert "已标记" in await send(bot, location_update(*NEAR_WEST_LAKE, accuracy=10))
    [visit] = visits_of(db, "li")
    assert (visit.verdict, visit.counts) == ("flagged", False)
    assert [r["code"] for r in visit.reasons] == ["photo_flagged"]


async def test_exif_gps_far_from_the_visit_is_flagged(bot, db):
    await start_visit(bot)
    far = jpeg(picture(4), exif_time(datetime.now(UTC)), SHANGHAI, gps=(31.230417, 121.473702))  # Shanghai, not Hangzhou
    bot.api.add_file("d3", far)
    assert "拍摄地点距拜访位置" in await send(bot, document_update("d3", len(far)))
    assert [r["code"] for r in photos(db)[0].reasons] == ["photo_gps_outside"]


async def test_the_same_picture_resized_and_re_encoded_at_another_visit_is_flagged(bot, db):
    await start_visit(bot)
    original = jpeg(picture(5))
    bot.api.add_file("a", original)
    await send(bot, document_update("a", len(original)))
    await bot.say("/visit end", chat_id=LI)
    await bot.say("/visit c2", chat_id=LI)
    again = png(picture(5).resize((400, 300)))  # resized, another format: other bytes, same picture
    bot.api.add_file("b", again)
    answer = await send(bot, document_update("b", len(again), file_name="shop.png", mime_type="image/png"))
    assert "与拜访 #1 的照片是同一张图" in answer
    first, second = photos(db)
    assert first.sha256 != second.sha256 and second.visit_id == 2
    assert [r["code"] for r in second.reasons if r["severity"] == "flag"] == ["photo_reused"]
    other = jpeg(picture(6))
    bot.api.add_file("c", other)
    assert "同一张图" not in await send(bot, document_update("c", len(other)))


async def test_a_photo_just_after_the_visit_ended_still_attaches_but_none_without_a_visit(bot, db, photo_dir):
    content = jpeg(picture(7))
    bot.api.add_file("x", content)
    assert "没有可以附加这张照片的拜访" in await send(bot, document_update("x", len(content)))
    assert photos(db) == [] and stored_files(photo_dir) == []
    await start_visit(bot)
    await bot.say("/visit end", chat_id=LI)
    assert "照片已附加到拜访 #1" in await send(bot, document_update("x", len(content)))


async def test_not_an_image_is_refused_and_nothing_is_written(bot, db, photo_dir):
    await start_visit(bot)
    bot.api.add_file("pdf", NOT_AN_IMAGE)
    answer = await send(bot, document_update("pdf", len(NOT_AN_IMAGE), file_name="contract.jpg"))
    assert "无法识别这个文件为照片" in answer
    assert photos(db) == [] and stored_files(photo_dir) == []


async def test_a_file_over_the_limit_is_refused_without_downloading(bot, db, photo_dir):
    await start_visit(bot)
    answer = await send(bot, document_update("huge", 11 * 1024 * 1024))
    assert "文件太大(上限 10.0 MB)" in answer
    assert bot.api.downloads == [] and bot.api.called("getFile") == []
    assert photos(db) == [] and stored_files(photo_dir) == []


async def test_corrupt_exif_is_refused_and_nothing_is_written(bot, db, photo_dir):
    await start_visit(bot)
    lying = jpeg(picture(8), "yesterday at noon")  # DateTimeOriginal that is no EXIF date
    broken_gps = jpeg(picture(9), gps=(30.0, 120.0), raw_gps=(30.0, 15.0))  # GPS latitude without its seconds
    for file_id, content in (("l1", lying), ("l2", broken_gps)):
        bot.api.add_file(file_id, content)
        assert "EXIF 信息(拍摄时间和地点)已损坏" in await send(bot, document_update(file_id, len(content)))
    assert photos(db) == [] and stored_files(photo_dir) == []


async def test_a_photo_in_a_group_is_refused_and_not_downloaded(bot, db, photo_dir):
    await start_visit(bot)
    content = jpeg(picture(10))
    bot.api.add_file("g", content)
    before = len(bot.api.texts(LI))
    group = await send(bot, photo_update("g", len(content), chat_id=-100, chat_type="group"), chat_id=-100)
    assert "私聊" in group and "照片" not in group  # like a location: the group learns nothing more
    assert "请在私聊中把拜访照片发给我" in "\n".join(bot.api.texts(LI)[before:])
    assert bot.api.downloads == [] and photos(db) == []


async def test_the_manager_sees_the_photos_in_review_and_gets_them_privately(bot, db):
    await start_visit(bot)
    content = jpeg(picture(11), exif_time(datetime.now(UTC) - timedelta(hours=5)), SHANGHAI)
    bot.api.add_file("m", content)
    await send(bot, document_update("m", len(content)))
    queue = await bot.say("/review", chat_id=MEI)
    assert "照片" in queue and "1 张" in queue and "拍摄时间在拜访时段之外" in queue and "/photos 1" in queue
    item = bot.api.called("sendMessage")[-1]
    buttons = [b for row in item["reply_markup"]["inline_keyboard"] for b in row]
    assert {"text": "照片(1)", "callback_data": "photos 1"} in buttons
    before = len(bot.api.called("sendPhoto"))
    assert "拜访 #1 的照片" in await send(bot, callback_update("photos 1", chat_id=MEI, user_id=MEI), chat_id=MEI)
    [sent] = (await bot.api.wait_for("sendPhoto", before + 1))[before:]
    assert str(sent["chat_id"]) == str(MEI) and sent["photo_bytes"] == content
    # Sam is outside Li's scope: the same answer as a visit that does not exist.
    with db.uow() as uow:
        uow.session.add(PlatformIdentity(platform="telegram", workspace=WORKSPACE, platform_user_id="777",
                                         dm_chat_id="777", user_id=user_id(db, "sam")))
        uow.commit()
    assert "#1" in await bot.say("/photos 1", chat_id=777) and len(bot.api.called("sendPhoto")) == before + 1


async def test_a_redelivered_photo_update_is_attached_once(bot, db, photo_dir):
    await start_visit(bot)
    content = jpeg(picture(13))
    bot.api.add_file("r", content)
    update = document_update("r", len(content))
    assert "照片已附加" in await send(bot, update)
    assert await bot.post(update) == 200  # Telegram sends the same update_id again
    await bot.front_end.router.marked()
    assert len(photos(db)) == 1 and len(stored_files(photo_dir)) == 1


async def test_a_failed_download_is_said_and_nothing_is_written(bot, db, photo_dir):
    await start_visit(bot)
    content = jpeg(picture(14))
    bot.api.add_file("f", content)
    bot.api.fail_next("getFile", status=400, description="Bad Request: wrong file_id or the file is temporarily unavailable")
    assert "未能从聊天平台取得这个文件" in await send(bot, document_update("f", len(content)))
    assert photos(db) == [] and stored_files(photo_dir) == []
