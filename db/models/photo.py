"""Photos attached to visits (`visit_photos`): the file is stored by content (sha256) in PHOTO_DIR
and never deleted; the row says whose it is, what the photo's EXIF said and why it is doubtful.

`phash` is the 64-bit perceptual hash (imagehash.phash) as 16 hex digits. Reuse is a Hamming distance,
which no index answers directly: its four 16-bit bands are kept as indexed integers too
(`phash_b0`..`phash_b3`). Two hashes within 3 bits share at least one band (pigeonhole), and the
company-wide search reads only the photos sharing a band (bot.services.visits.photos).
"""
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, UTCDateTime, utcnow

PHASH_BANDS = 4
BAND_BITS = 16


class VisitPhoto(Base):
    __tablename__ = "visit_photos"

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visits.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # the uploader
    # Copied from the visit, so the customer's (or lead's) earlier photos are one index away.
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    stored_path: Mapped[str] = mapped_column(String(200))  # relative to PHOTO_DIR
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(40))
    phash: Mapped[str] = mapped_column(String(16), index=True)
    phash_b0: Mapped[int] = mapped_column(Integer, index=True)
    phash_b1: Mapped[int] = mapped_column(Integer, index=True)
    phash_b2: Mapped[int] = mapped_column(Integer, index=True)
    phash_b3: Mapped[int] = mapped_column(Integer, index=True)
    # How it arrived: "photo" (Telegram's compressed photo, no EXIF) or "file" (the original file).
    sent_as: Mapped[str] = mapped_column(String(12))
    exif_taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    exif_latitude: Mapped[float | None] = mapped_column(Float)
    exif_longitude: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)



def phash_bands(phash_hex: str) -> list[int]:
    """The hash's four 16-bit bands, most significant first."""
    value = int(phash_hex, 16)
    mask = (1 << BAND_BITS) - 1
    return [(value >> (BAND_BITS * (PHASH_BANDS - 1 - band))) & mask for band in range(PHASH_BANDS)]
