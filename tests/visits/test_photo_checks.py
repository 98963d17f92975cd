"""Visit photos below the adapters: what is read from a file, the checks and their thresholds, the
store's all-or-nothing write, and the console's /photo PATH."""
import struct
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy import select

from bot.adapters.console import ConsoleAdapter
from bot.errors import UserError
from bot.services.visits import photo_checks as checks
from bot.services.visits import photos
from bot.services.visits.photo_store import PhotoStore
from db.models import VisitPhoto
from db.models.photo import phash_bands
from tests.conftest import say
from tests.visits.photo_images import NOT_AN_IMAGE, jpeg, picture, png
from tests.visits.test_visits import add_records

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_exif_time_with_its_offset_and_without_it_in_the_reps_zone():
    with_offset = checks.read_photo(jpeg(picture(1), "2026:05:06 10:00:00", "-05:00"), SHANGHAI)
    assert with_offset.taken_at == datetime(2026, 5, 6, 15, 0, tzinfo=UTC)
    local = checks.read_photo(jpeg(picture(1), "2026:05:06 10:00:00"), SHANGHAI)
    assert local.taken_at == datetime(2026, 5, 6, 2, 0, tzinfo=UTC)
    assert local.has_exif and local.mime == "image/jpeg"


def test_gps_in_the_southern_and_western_hemispheres():
    facts = checks.read_photo(jpeg(picture(2), gps=(-33.8688, -70.6693)), SHANGHAI)
    assert facts.latitude == pytest.approx(-33.8688, abs=1e-6) and facts.longitude == pytest.approx(-70.6693, abs=1e-6)


def test_a_png_has_no_exif_and_the_bytes_decide_the_type():
    facts = checks.read_photo(png(picture(3)), SHANGHAI)
    assert (facts.mime, facts.has_exif, facts.taken_at) == ("image/png", False, None)
    assert [r.code for r in checks.check_exif(facts, "file")] == ["photo_no_exif"]
    assert [(r.code, r.severity) for r in checks.check_exif(facts, "photo")] == [("photo_sent_compressed", "note")]


@pytest.mark.parametrize("content", [NOT_AN_IMAGE, b"", jpeg(picture(4))[:200], b"GIF89a" + b"\0" * 50])
def test_what_is_not_a_whole_supported_picture_is_refused(content):
    with pytest.raises(UserError) as refused:
        checks.read_photo(content, SHANGHAI)
    assert refused.value.template == "visits/photo_not_image"


def _with_exif_block(block: bytes) -> bytes:
    """A JPEG whose APP1 segment carries `block` as its EXIF (after the "Exif" marker)."""
    body = jpeg(picture(4))
    payload = b"Exif\x00\x00" + block
    return body[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + body[2:]


@pytest.mark.parametrize("block", [
    b"\x13\x37" * 40,  # no TIFF header at all
    b"XX\x00\x2a\x00\x00\x00\x08" + b"\0" * 30,  # an unknown byte order
    b"MM\x00\x2a\x7f\xff\xff\xff" + b"\0" * 30,  # the first directory far past the block
    b"MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\0" * 30,  # 65535 entries in 30 bytes
    # one entry: the Exif sub-directory, pointing past the block
    b"MM\x00\x2a\x00\x00\x00\x08\x00\x01" + struct.pack(">HHII", 0x8769, 4, 1, 0x7FFF) + b"\0" * 4,
])
@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_an_exif_block_that_is_not_what_it_claims_is_refused(block):
    """Pillow reads such blocks as empty (with a warning): the photo would lose its time unnoticed."""
    with pytest.raises(UserError, match="photo_exif_corrupt"):
        checks.read_photo(_with_exif_block(block), SHANGHAI)


def test_an_empty_but_well_formed_exif_block_is_no_exif():
    facts = checks.read_photo(_with_exif_block(b"MM\x00\x2a\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00"), SHANGHAI)
    assert not facts.has_exif and facts.taken_at is None


def test_a_decompression_bomb_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(checks, "MAX_PIXELS", 640 * 480 - 1)
    with pytest.raises(UserError, match="photo_not_image"):
        checks.read_photo(png(picture(5)), SHANGHAI)


def test_the_time_window_and_its_tolerance():
    start = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)
    end = start + timedelta(hours=1)
    assert checks.check_time(start - timedelta(minutes=30), start, end) == []
    assert checks.check_time(end + timedelta(minutes=30), start, end) == []
    [early] = checks.check_time(start - timedelta(minutes=31), start, end)
    assert (early.code, early.severity, early.params["minutes"]) == ("photo_time_outside", "flag", 31)
    assert checks.check_time(None, start, end) == []


def test_the_position_against_the_geofence():
    west_lake = (30.2431, 120.1507)
    assert checks.check_position(30.2440, 120.1507, west_lake, 500) == []  # 100 m
    [far] = checks.check_position(30.2531, 120.1507, west_lake, 500)  # 1.1 km
    assert far.code == "photo_gps_outside" and far.params["distance_m"] > 1000
    assert checks.check_position(None, None, west_lake, 500) == []
    assert checks.check_position(30.0, 120.0, None, 500) == []


def test_reuse_within_six_bits_and_not_beyond():
    base = checks.read_photo(jpeg(picture(6)), SHANGHAI).phash
    resized = checks.read_photo(jpeg(picture(6).resize((320, 240)), quality=50), SHANGHAI).phash
    other = checks.read_photo(jpeg(picture(7)), SHANGHAI).phash
    assert checks.hamming(base, resized) <= checks.REUSE_MAX_BITS < checks.hamming(base, other)
    [reused] = checks.check_reuse(resized, [(3, other), (9, base)])
    assert reused.params["visit_id"] == 9
    assert checks.check_reuse(other, [(9, base)]) == []
    flipped = format(int(base, 16) ^ 0b1111111, "016x")  # 7 bits off
    assert checks.check_reuse(flipped, [(9, base)]) == []


def test_the_bands_split_the_hash():
    assert phash_bands("0123456789abcdef") == [0x0123, 0x4567, 0x89AB, 0xCDEF]


def test_a_stored_file_is_removed_when_its_transaction_does_not_commit(db, tmp_path):
    store = PhotoStore(tmp_path)
    with db.uow() as uow:
        store.put(uow.session, b"abc", "ab/abc.jpg")
        assert (tmp_path / "ab/abc.jpg").exists()
        uow.rollback()
    assert not (tmp_path / "ab/abc.jpg").exists()
    with db.uow() as uow:
        store.put(uow.session, b"abc", "ab/abc.jpg")
        uow.commit()
    with db.uow() as uow:  # the same bytes again, then a rollback: the kept file stays
        store.put(uow.session, b"abc", "ab/abc.jpg")
    assert (tmp_path / "ab/abc.jpg").read_bytes() == b"abc"
    assert [p.name for p in (tmp_path / "ab").iterdir()] == ["abc.jpg"]  # no temporary left


def test_the_console_sends_a_photo_by_path(console: ConsoleAdapter, db, settings, tmp_path):
    add_records(db)
    say(console, "/as li")
    say(console, "/visit c1")
    path = tmp_path / "shop.jpg"
    path.write_bytes(jpeg(picture(8)))
    assert "照片已附加到拜访 #1" in say(console, f"/photo {path}")
    assert "photo 文件路径" in say(console, f"/photo {tmp_path / 'missing.jpg'}")
    Image.new("RGB", (10, 10)).save(tmp_path / "tiny.gif")
    assert "无法识别这个文件为照片" in say(console, f"/photo {tmp_path / 'tiny.gif'}")
    with db.uow() as uow:
        [photo] = uow.session.scalars(select(VisitPhoto)).all()
    assert (settings.PHOTO_DIR / photo.stored_path).read_bytes() == path.read_bytes()


def test_photos_sends_the_first_ones_and_says_how_many_there_are(console: ConsoleAdapter, db, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setattr(photos, "SENT_AT_MOST", 1)
    monkeypatch.chdir(tmp_path)  # the console saves files it receives in ./fieldcrm-files
    add_records(db)
    say(console, "/as li")
    say(console, "/visit c1")
    for seed in (31, 32):
        path = tmp_path / f"p{seed}.png"
        path.write_bytes(png(picture(seed)))
        say(console, f"/photo {path}")
    out = say(console, "/photos 1")
    assert "共 2 张,前 1 张已在此发给你" in out and "visit1-photo1.png" in out and "photo2" not in out


def test_a_missing_photo_file_is_said_and_the_others_still_sent(console: ConsoleAdapter, db, settings, tmp_path,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    add_records(db)
    say(console, "/as li")
    say(console, "/visit c1")
    for seed in (41, 42):
        path = tmp_path / f"p{seed}.png"
        path.write_bytes(png(picture(seed)))
        say(console, f"/photo {path}")
    with db.uow() as uow:
        first = uow.session.scalars(select(VisitPhoto).order_by(VisitPhoto.id)).first()
    (settings.PHOTO_DIR / first.stored_path).unlink()
    out = say(console, "/photos 1")
    assert "照片文件夹中缺少这张照片的文件" in out and "visit1-photo2.png" in out and "visit1-photo1" not in out
