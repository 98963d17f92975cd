"""What a visit photo says about itself, and whether it fits its visit. Pure functions, no database.

`read_photo` decodes the bytes (Pillow: the content decides the format, never the file name or the
declared type), reads the EXIF time and GPS position when the file has them, and computes the
sha256 and the 64-bit perceptual hash (imagehash pHash). The checks then compare the photo with
its visit; each returns reasons in the shape of bot.services.visits.location_checks.Reason, with
the thresholds of docs/design/rules.md ("Visit photos").
"""
import hashlib
import io
import math
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import imagehash
from PIL import ExifTags, Image, UnidentifiedImageError

from bot.errors import UserError
from bot.services.core import geo
from bot.services.visits.location_checks import FLAG, NOTE, Reason

# The image types a photo may be, by what the bytes are (Pillow's format name -> MIME type).
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# A picture bigger than this many pixels is refused before it is decoded (a decompression bomb:
# a few kilobytes of PNG can unpack to gigabytes). 60 MP is above every phone camera in use.
MAX_PIXELS = 60_000_000
# A photo taken this long before the visit started or after it ended is flagged: time for the
# photo of the shop front taken while parking, not for yesterday's.
TIME_TOLERANCE = timedelta(minutes=30)
# Two pHashes this close (Hamming distance, bits out of 64) are the same picture. Measured on the
# test pictures (30 each): resizing, re-encoding at JPEG quality 40 and converting to PNG move the
# hash by 0-2 bits; a 3 % crop by 2-8, a 3 degree rotation by 4-14; unrelated pictures differ by
# 22-40 (~32, half the bits, on average). 6 catches every plain re-send (Telegram's compression,
# a re-save, a resize) with room to spare and most light crops, and stays far below
# unrelated pictures, so a flag is rarely wrong; a rotated or cropped copy may pass unflagged.
REUSE_MAX_BITS = 6
EXIF_TIME_FORMAT = "%Y:%m:%d %H:%M:%S"


@dataclass(frozen=True)
class PhotoFacts:
    mime: str
    width: int
    height: int
    sha256: str
    phash: str  # 16 hex digits
    has_exif: bool
    taken_at: datetime | None  # EXIF DateTimeOriginal, aware (its offset, else the rep's zone)
    latitude: float | None
    longitude: float | None


def read_photo(content: bytes, zone: ZoneInfo) -> PhotoFacts:
    """The photo's facts; UserError("visits/photo_not_image") for anything Pillow cannot decode as
    one of FORMATS, UserError("visits/photo_exif_corrupt") for EXIF that cannot be read as EXIF."""
    image = _decoded(content)
    raw = image.info.get("exif")
    if isinstance(raw, bytes) and raw and not exif_structure_ok(raw):
        raise UserError("visits/photo_exif_corrupt")
    try:
        exif = image.getexif()
        taken_at, latitude, longitude = _exif_time(exif, zone), *_exif_position(exif)
        has_exif = len(exif) > 0
    except (SyntaxError, ValueError, TypeError, KeyError, IndexError, OverflowError, ZeroDivisionError,
            struct.error, OSError) as exc:
        raise UserError("visits/photo_exif_corrupt") from exc
    return PhotoFacts(
        mime=FORMATS[image.format or ""], width=image.width, height=image.height,
        sha256=hashlib.sha256(content).hexdigest(), phash=str(imagehash.phash(image.convert("RGB"))),
        has_exif=has_exif, taken_at=taken_at, latitude=latitude, longitude=longitude,
    )


def _decoded(content: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(content))
        # Checked before decoding, and below Pillow's own warning threshold (89 MP).
        if image.format not in FORMATS or image.width * image.height > MAX_PIXELS:
            raise UserError("visits/photo_not_image")
        image.load()  # the whole picture decodes, not only its header
    except UserError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError,
            struct.error) as exc:
        raise UserError("visits/photo_not_image") from exc
    return image


# Where the IFDs of the EXIF block's two sub-directories are: the Exif IFD and the GPS IFD.
SUB_IFD_TAGS = (0x8769, 0x8825)
TIFF_HEADERS = {b"II*\x00": "<", b"MM\x00*": ">"}


def exif_structure_ok(raw: bytes) -> bool:
    """The EXIF block is what it claims: a TIFF header, and its first directory and the Exif and GPS
    directories it points to lie inside the block. (Pillow reads a broken block as empty, or as far
    as it goes, with only a warning: a photo would lose its time and place without a word.)"""
    data = raw.removeprefix(b"Exif\x00\x00")
    order = TIFF_HEADERS.get(data[:4])
    if order is None or len(data) < 8:
        return False
    first = struct.unpack(order + "I", data[4:8])[0]
    entries = _directory(data, first, order)
    if entries is None:
        return False
    for at in range(first + 2, first + 2 + 12 * entries, 12):
        tag, _kind, _count, value = struct.unpack(order + "HHII", data[at:at + 12])
        if tag in SUB_IFD_TAGS and _directory(data, value, order) is None:
            return False
    return True


def _directory(data: bytes, offset: int, order: str) -> int | None:
    """The number of entries of the directory at `offset`, or None when it does not fit in `data`."""
    if offset < 8 or offset + 2 > len(data):
        return None
    entries = struct.unpack(order + "H", data[offset:offset + 2])[0]
    return entries if offset + 2 + 12 * entries <= len(data) else None


def _exif_time(exif: Image.Exif, zone: ZoneInfo) -> datetime | None:
    """DateTimeOriginal (else DateTime) with OffsetTimeOriginal when given, else in the rep's zone."""
    details = exif.get_ifd(ExifTags.IFD.Exif)
    raw = details.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ValueError("EXIF time is not text")
    local = datetime.strptime(raw.strip("\x00 "), EXIF_TIME_FORMAT)
    offset = details.get(ExifTags.Base.OffsetTimeOriginal)
    if offset is None:
        return local.replace(tzinfo=zone)
    if not isinstance(offset, str):
        raise ValueError("EXIF offset is not text")
    return local.replace(tzinfo=_offset(offset.strip("\x00 ")))


def _offset(text: str) -> timezone:
    """"+08:00" -> UTC+8."""
    sign = {"+": 1, "-": -1}[text[0]]
    hours, minutes = text[1:].split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def _exif_position(exif: Image.Exif) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    if ExifTags.GPS.GPSLatitude not in gps or ExifTags.GPS.GPSLongitude not in gps:
        return None, None
    latitude = _degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef, "N"), "NS")
    longitude = _degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef, "E"), "EW")
    if not geo.is_valid(latitude, longitude):
        raise ValueError("EXIF position out of range")
    return latitude, longitude


def _degrees(value: object, ref: object, refs: str) -> float:
    """(degrees, minutes, seconds) rationals and a hemisphere letter -> signed decimal degrees."""
    if not isinstance(value, tuple) or len(value) != 3 or not isinstance(ref, str):
        raise ValueError("EXIF GPS is not degrees, minutes, seconds")
    ref = ref.strip("\x00 ").upper()
    if ref not in refs:
        raise ValueError("EXIF GPS hemisphere unknown")
    degrees, minutes, seconds = (float(part) for part in value)
    result = degrees + minutes / 60 + seconds / 3600
    if not math.isfinite(result):
        raise ValueError("EXIF GPS is not a number")
    return -result if ref == refs[1] else result


# ---------------------------------------------------------------- the checks


def check_exif(facts: PhotoFacts, sent_as: str) -> list[Reason]:
    """No EXIF to check: a note, never a flag (Telegram's compressed photo never carries any)."""
    if sent_as == "photo":
        return [Reason("photo_sent_compressed", NOTE)]
    return [] if facts.has_exif else [Reason("photo_no_exif", NOTE)]


def check_time(taken_at: datetime | None, started_at: datetime, ended_at: datetime) -> list[Reason]:
    """The EXIF time inside the visit, give or take TIME_TOLERANCE."""
    if taken_at is None:
        return []
    if started_at - TIME_TOLERANCE <= taken_at <= ended_at + TIME_TOLERANCE:
        return []
    off = (started_at - taken_at) if taken_at < started_at else (taken_at - ended_at)
    return [Reason("photo_time_outside", FLAG, {"minutes": round(off.total_seconds() / 60),
                                                "limit_min": round(TIME_TOLERANCE.total_seconds() / 60)})]


def check_position(latitude: float | None, longitude: float | None, place: tuple[float, float] | None,
                   geofence_m: float) -> list[Reason]:
    """The EXIF position inside the geofence of the visit's position (else its customer's)."""
    if latitude is None or longitude is None or place is None:
        return []
    distance = geo.distance_m(latitude, longitude, *place)
    if distance <= geofence_m:
        return []
    return [Reason("photo_gps_outside", FLAG, {"distance_m": round(distance), "limit_m": round(geofence_m)})]


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def check_reuse(phash: str, earlier: list[tuple[int, str]]) -> list[Reason]:
    """`earlier`: (visit id, pHash) of photos at other visits; the closest match within REUSE_MAX_BITS."""
    close = sorted((hamming(phash, other), visit_id) for visit_id, other in earlier)
    if not close or close[0][0] > REUSE_MAX_BITS:
        return []
    bits, visit_id = close[0]
    return [Reason("photo_reused", FLAG, {"visit_id": visit_id, "bits": bits})]
