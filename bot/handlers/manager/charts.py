"""Chart images rendered server-side with Pillow: a week of visits per rep, pipeline by stage,
target pace. One PNG with stacked panels, attached to /team and /report.

Chinese labels need a CJK font: one is looked up with fc-list; without it the chart falls back to
Pillow's built-in font and latin labels (non-latin characters are dropped from names). A missing
font never fails a command.
"""
import io
import logging
import shutil
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from bot.i18n import format_number, format_ratio, label
from bot.services.manager import team

log = logging.getLogger(__name__)

WIDTH = 900
BAR_H = 18
GAP = 8
PAD = 16
LABEL_W = 190
MAX_ROWS = 15
COLORS = ["#4e79a7", "#59a14f", "#f28e2b", "#e15759", "#76b7b2", "#edc948", "#b07aa1"]
INK, GRID, PACE = "#222222", "#dddddd", "#e15759"

FontT = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def cjk_font_path() -> str | None:
    """A font file that shows Chinese, if the machine has one."""
    if shutil.which("fc-list") is None:
        return None
    try:
        found = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    files = sorted(line.split(":")[0].strip() for line in found.splitlines() if line.strip())
    return files[0] if files else None


@cache
def font(size: int) -> FontT:
    path = cjk_font_path()
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            log.warning("font %s unreadable; using the default font", path)
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow without FreeType: a fixed bitmap font
        return ImageFont.load_default()


def shows_chinese() -> bool:
    return cjk_font_path() is not None


def printable(text: str) -> str:
    """What the current font can show: everything with a CJK font, latin characters otherwise."""
    if shows_chinese():
        return text
    latin = "".join(ch for ch in text if ord(ch) < 0x250).strip()
    return latin or "?"


@dataclass(frozen=True)
class Bars:
    """One panel: a title, a label per bar, and per bar its segments (stacked left to right)."""

    title: str
    labels: list[str]
    segments: list[list[float]]
    legend: tuple[str, ...] = ()
    marker: float | None = None  # a vertical line at this share of the axis (target pace)
    as_percent: bool = False
    value_labels: list[str] | None = None
    locale: str = "en"  # of the numbers drawn


def _panel_height(panel: Bars) -> int:
    rows = min(len(panel.labels), MAX_ROWS)
    legend = 22 if panel.legend else 0
    return PAD + 26 + legend + max(1, rows) * (BAR_H + GAP) + PAD


def _draw_panel(draw: ImageDraw.ImageDraw, panel: Bars, top: int) -> None:
    title_font, small = font(18), font(13)
    draw.text((PAD, top + PAD), printable(panel.title), fill=INK, font=title_font)
    y = top + PAD + 26
    if panel.legend:
        x = LABEL_W
        for index, name in enumerate(panel.legend):
            draw.rectangle([x, y + 3, x + 10, y + 13], fill=COLORS[index % len(COLORS)])
            draw.text((x + 14, y), printable(name), fill=INK, font=small)
            x += 18 + int(draw.textlength(printable(name), font=small)) + 12
        y += 22
    rows = list(zip(panel.labels, panel.segments, strict=True))[:MAX_ROWS]
    axis_w = WIDTH - LABEL_W - PAD - 90
    biggest = max([sum(seg) for _l, seg in rows] + [1.0 if panel.as_percent else 0.0, 1e-9])
    if not rows:
        draw.text((LABEL_W, y), "-", fill=INK, font=small)
    for index, (text, segments) in enumerate(rows):
        row_y = y + index * (BAR_H + GAP)
        draw.text((PAD, row_y + 2), printable(text)[:24], fill=INK, font=small)
        draw.line([LABEL_W, row_y + BAR_H + GAP // 2, LABEL_W + axis_w, row_y + BAR_H + GAP // 2], fill=GRID)
        x = LABEL_W
        for part, value in enumerate(segments):
            width = int(axis_w * value / biggest)
            if width > 0:
                draw.rectangle([x, row_y, x + width, row_y + BAR_H], fill=COLORS[part % len(COLORS)])
            x += width
        if panel.value_labels:
            caption = panel.value_labels[index]
        else:
            total = sum(segments)
            caption = (format_ratio if panel.as_percent else format_number)(total, panel.locale)
        draw.text((x + 6, row_y + 2), caption, fill=INK, font=small)
    if panel.marker is not None:
        mark_x = LABEL_W + int(axis_w * panel.marker / biggest)
        bottom = y + max(1, len(rows)) * (BAR_H + GAP)
        draw.line([mark_x, y - 4, mark_x, bottom], fill=PACE, width=2)


def render(panels: list[Bars]) -> bytes:
    """Stack the panels into one PNG."""
    height = sum(_panel_height(p) for p in panels) or 40
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    top = 0
    for panel in panels:
        _draw_panel(draw, panel, top)
        top += _panel_height(panel)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def visits_week(title: str, weekday_names: list[str], rows: list[tuple[str, list[int]]], locale: str = "en") -> Bars:
    """A week of counted visits per rep: one bar per rep, one segment per weekday."""
    return Bars(title, [name for name, _ in rows], [[float(v) for v in days] for _, days in rows], tuple(weekday_names),
                locale=locale)


def pipeline(title: str, stages: list[tuple[str, int, Decimal]], locale: str = "en") -> Bars:
    """Open pipeline by stage: amount per stage, with the deal count."""
    return Bars(
        title, [name for name, _c, _a in stages], [[float(amount)] for _n, _c, amount in stages],
        value_labels=[f"{format_number(amount, locale)} ({count})" for _n, count, amount in stages], locale=locale,
    )


def target_pace(title: str, pace: float, rows: list[tuple[str, float]], locale: str = "en") -> Bars:
    """Achievement per rep against the share of the period elapsed (the red line)."""
    return Bars(title, [name for name, _ in rows], [[share] for _, share in rows], marker=pace, as_percent=True,
                locale=locale)




def team_chart(view: team.TeamView, locale: str) -> bytes | None:
    """Visits this week per rep, pipeline by stage, target pace; None if drawing fails (never fatal)."""
    chart_locale = locale if shows_chinese() else "en"
    words = lambda key: label(key, chart_locale)  # noqa: E731
    weekdays = [words(f"manager_weekday_{i}") for i in range(7)]
    panels = [visits_week(words("manager_chart_visits"), weekdays,
                                 [(r.name, r.visits_by_day) for r in view.rows], chart_locale)]
    stages = [(words(f"manager_stage_{s}"), *view.totals.stages.get(s, (0, Decimal("0")))) for s in team.OPEN_STAGES]
    panels.append(pipeline(words("manager_chart_pipeline"), stages, chart_locale))
    with_targets = [(r.name, r.achievement or 0.0) for r in view.rows if r.target]
    if with_targets:
        panels.append(target_pace(words("manager_chart_pace"), view.month_pace, with_targets, chart_locale))
    try:
        return render(panels)
    except Exception:  # a chart is a bonus: the numbers still go out in text
        log.exception("chart rendering failed")
        return None
