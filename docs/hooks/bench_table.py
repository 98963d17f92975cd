"""MkDocs hook: the benchmarks page's table, rendered at build time from the last `make bench` run.

`python -m bench` (a full run) writes docs/benchmarks/last-run.json; this hook replaces the marker
below in docs/benchmarks.md with a description of that run and a table of its rows. Nobody pastes
figures by hand: a missing marker or an unreadable results file fails the build.
"""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

from mkdocs.exceptions import PluginError

PAGE = "benchmarks.md"
RESULTS = "benchmarks/last-run.json"
MARKER = "<!-- bench-table -->"

# A target the table can check: "<= 1.5x ...", ">= 0.6x bare", "< 200 MB", or an exact number ("0").
_BOUND = re.compile(r"^\s*(<=|>=|<|>)\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*(x|[A-Za-z/]+)?")
_EXACT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*$")
_COMPARE = {"<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, ">": lambda a, b: a > b}


def verdict(row: dict) -> str | None:
    """'met' or 'not met' when the target is a bound the row's figures can be checked against,
    else None (targets such as "for scale" or "far under 3000 ms" are read, not checked)."""
    target = row.get("target") or ""
    exact = _EXACT.match(target)
    if exact:
        return "met" if row["value"] == float(exact.group(1)) else "not met"
    bound = _BOUND.match(target)
    if not bound:
        return None
    op, number, unit = bound.group(1), float(bound.group(2).replace(",", "")), bound.group(3)
    if unit == "x":
        if row.get("ratio") is None:
            return None
        return "met" if _COMPARE[op](round(row["ratio"], 2), number) else "not met"
    if unit and unit != row.get("unit"):
        return None
    return "met" if _COMPARE[op](row["value"], number) else "not met"


def _text(text: str) -> str:
    return html.escape(text, quote=False)


def _cell(text: str) -> str:
    return _text(text).replace("|", "\\|")


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:,.2f}\u00a0{unit}" if unit else f"{value:,.2f}"


def render_run(run: dict) -> str:
    machine = run.get("machine") or {}
    parts = [machine.get("cpu"), f"{machine['cpus']} CPUs" if machine.get("cpus") else None,
             f"{machine['memory_gb']} GB" if machine.get("memory_gb") else None]
    described = ", ".join(p for p in parts if p)
    date = str(run.get("date", "unknown")).replace("T", " ")
    commit = run.get("commit")
    if commit:
        commit_text = f"`{commit[:12]}`" + (" with uncommitted changes" if run.get("commit_dirty") else "")
    else:
        commit_text = "not recorded"
    facts = [
        ("date", _text(date)),
        ("machine", _text(f"{machine.get('node', '?')} {machine.get('arch', '')}".strip())
         + (f" ({_text(described)})" if described else "")),
        ("Python", _text(str(run.get("python", "?")))),
        ("PostgreSQL", _text(str(run.get("postgresql") or "not recorded"))),
        ("commit", commit_text),
    ]
    if run.get("duration_s"):
        facts.append(("duration", f"{round(run['duration_s'] / 60)} min"))
    lines = [" · ".join(f"**{name}** {value}" for name, value in facts) + "  ",
             f"**source** {_text(str(run.get('source', '')))}"]
    text = "\n".join(lines) + "\n"
    if run.get("note"):
        text += '\n!!! note "About these figures"\n\n    ' + _text(run["note"]) + "\n"
    return text


def render_table(rows: list[dict]) -> str:
    lines = ["| benchmark | figure | value | floor | ratio | target | met? |", "|---|---|--:|--:|--:|---|---|"]
    previous = None
    for row in rows:
        figure = row["figure"]
        if figure.startswith(" "):
            figure = "↳ " + figure.strip()
        bench = row["bench"] if row["bench"] != previous else ""
        previous = row["bench"]
        ratio = "–" if row.get("ratio") is None else f"{row['ratio']:.2f}x"
        status = verdict(row)
        mark = {"met": "met", "not met": "**not met**", None: ""}[status]
        lines.append(f"| {_cell(bench)} | {_cell(figure)} | {_number(row['value'], row.get('unit', ''))} | "
                     f"{_number(row.get('floor'), row.get('unit', ''))} | {ratio} | {_cell(row.get('target', ''))} "
                     f"| {mark} |")
    return "\n".join(lines) + "\n"


def render(data: dict) -> str:
    try:
        return render_run(data) + "\n" + render_table(data["rows"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PluginError(f"bench_table: {RESULTS} is malformed: {exc!r}") from exc


def load(docs_dir: str | Path) -> dict:
    path = Path(docs_dir) / RESULTS
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PluginError(f"bench_table: cannot read {path}: {exc}") from exc


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if markdown.count(MARKER) != 1:
        raise PluginError(f"bench_table: {PAGE} must contain the marker {MARKER} exactly once")
    return markdown.replace(MARKER, render(load(config["docs_dir"])))
