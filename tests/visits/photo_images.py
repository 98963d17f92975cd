"""Pictures for the photo tests, made with Pillow: distinct drawings, JPEGs with the EXIF a camera
writes (DateTimeOriginal, OffsetTimeOriginal, GPS), and broken ones."""
import io
import random

from PIL import ExifTags, Image, ImageDraw


def picture(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A drawing of coloured blocks, different for each seed (its pHash differs by ~30 bits)."""
    rnd = random.Random(seed)
    image = Image.new("RGB", size, (rnd.randrange(256),) * 3)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        draw.rectangle([x, y, x + rnd.randrange(50, 300), y + rnd.randrange(50, 200)],
                       fill=tuple(rnd.randrange(256) for _ in range(3)))
    return image


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return float(degrees), float(minutes), round(((value - degrees) * 60 - minutes) * 60, 4)


def jpeg(image: Image.Image, taken: str | None = None, offset: str | None = None,
         gps: tuple[float, float] | None = None, raw_gps: object = None, quality: int = 90) -> bytes:
    """`taken`: "YYYY:MM:DD HH:MM:SS" as cameras write it; `raw_gps`: a latitude value as is (broken)."""
    exif = Image.Exif()
    if taken is not None:
        details = exif.get_ifd(ExifTags.IFD.Exif)
        details[ExifTags.Base.DateTimeOriginal] = taken
        if offset is not None:
            details[ExifTags.Base.OffsetTimeOriginal] = offset
    if gps is not None or raw_gps is not None:
        position = exif.get_ifd(ExifTags.IFD.GPSInfo)
        latitude, longitude = gps or (30.0, 120.0)
        position[ExifTags.GPS.GPSLatitudeRef] = "N" if latitude >= 0 else "S"
        position[ExifTags.GPS.GPSLatitude] = raw_gps if raw_gps is not None else _dms(latitude)
        position[ExifTags.GPS.GPSLongitudeRef] = "E" if longitude >= 0 else "W"
        position[ExifTags.GPS.GPSLongitude] = _dms(longitude)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=quality)
    return buffer.getvalue()


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


NOT_AN_IMAGE = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
