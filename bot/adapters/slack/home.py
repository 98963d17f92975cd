"""The App Home as Block Kit: a rep's or a manager's home (bot.services.home) within Slack's limits.

Every line comes from the templates (home/item.j2, labels/home.j2) and is escaped for mrkdwn. Slack
takes at most 100 blocks in a Home view: when the lists do not fit, the longest gives way first and
each list cut short ends with an "and N more" line whose button shows the whole list privately.
"""
from dataclasses import dataclass, field
from typing import Any

from bot.adapters.slack.blocks import MAX_BUTTON_LABEL, MAX_HEADER, MAX_TEXT, clip, escape
from bot.i18n import format_when, label, render_text
from bot.services.home.home import Home, ManagerHome, RepHome

MAX_HOME_BLOCKS = 100
MAX_ID = 255  # action_id, block_id
MAX_VALUE = 2000  # a button's value
HOME_COMMAND = "crm_home:"  # a button running a command; its value is the command line (answered in the DM)
OPEN_MODAL = "crm_open:"  # a button opening a modal (bot.adapters.slack.modals); its value prefills it


@dataclass(frozen=True)
class Press:
    """A button: runs a command line (HOME_COMMAND) or opens a modal (OPEN_MODAL)."""

    text: str
    action: str  # HOME_COMMAND + n, or OPEN_MODAL + kind
    value: str = ""


@dataclass
class Group:
    heading: str
    lines: list[tuple[str, Press | None]]
    empty: str
    total: int  # items there are (may exceed the lines read)
    more: Press | None = None  # shows them all
    shown: int = field(init=False)

    def __post_init__(self) -> None:
        self.shown = len(self.lines)

    @property
    def cut(self) -> bool:
        return self.shown < self.total

    def blocks_needed(self) -> int:
        return 1 + max(1, self.shown) + (1 if self.cut else 0)


def _line(kind: str, locale: str, it: object = None, **extra: object) -> str:
    return render_text("home/item", locale, command_prefix="/crm ", kind=kind, it=it, **extra)


def _command(text: str, line: str, n: int) -> Press:
    return Press(text, f"{HOME_COMMAND}{n}", line)


def rep_groups(rep: RepHome, locale: str) -> list[Group]:
    start = label("home_start_visit", locale)
    follow = label("home_follow_up", locale)
    show_all = label("home_show_all", locale)
    stops = [(_line("stop", locale, s), _command(start, f"visit {s.ref}", i)) for i, s in enumerate(rep.stops)]
    visit = rep.open_visit
    visit_lines = [] if visit is None else [
        (_line("open_visit", locale, visit), Press(label("home_visit_report", locale), OPEN_MODAL + "visit"))]
    pace = [(_line("pace", locale, p, metric=label(f"metric_{p.metric}", locale)), None) for p in rep.pace]
    leads = [(_line("quiet_lead", locale, q), Press(follow, OPEN_MODAL + "follow", str(q.lead_id)))
             for q in rep.quiet_leads]
    return [
        Group(label("home_plan", locale), stops, _line("no_stops", locale), len(stops) + rep.more_stops,
              _command(show_all, "plan", 100)),
        Group(label("home_open_visit", locale), visit_lines, _line("no_visit", locale), len(visit_lines)),
        Group(label("home_pace", locale), pace, _line("no_pace", locale), len(pace), _command(show_all, "target", 101)),
        Group(label("home_quiet_leads", locale), leads, _line("no_quiet_leads", locale), rep.quiet_total,
              _command(show_all, "leads", 102)),
    ]


def manager_groups(manager: ManagerHome, locale: str) -> list[Group]:
    review = [(_line("review", locale, manager.to_review),
               _command(label("home_review_now", locale), "review", 0) if manager.to_review else None)]
    reps = [(_line("rep_line", locale, r), None) for r in manager.reps]
    overdue = [(_line("overdue", locale, d, owner=manager.owners.get(d.owner_id, "")), None) for d in manager.overdue]
    show_all = label("home_show_all", locale)
    return [
        Group(label("home_review", locale), review, "", 1),
        Group(label("home_team_day", locale), reps, _line("no_reps", locale), len(reps), _command(show_all, "team", 100)),
        Group(label("home_overdue", locale), overdue, _line("no_overdue", locale), manager.overdue_total,
              _command(show_all, "team", 101)),
    ]


def fit(groups: list[Group], room: int) -> None:
    """Cut the longest lists until every block fits in `room` (each cut list gains its "more" line)."""
    while sum(g.blocks_needed() for g in groups) > room:
        longest = max(groups, key=lambda g: g.shown)
        if longest.shown == 0:
            return
        longest.shown -= 1


def _button(press: Press) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "action_id": press.action[:MAX_ID],
                               "text": {"type": "plain_text", "text": press.text[:MAX_BUTTON_LABEL], "emoji": True}}
    if press.value:
        element["value"] = press.value[:MAX_VALUE]
    return element


def _section(text: str, press: Press | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": clip(escape(text), MAX_TEXT) or " "}}
    if press is not None:
        block["accessory"] = _button(press)
    return block


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:MAX_HEADER] or " ", "emoji": True}}


def _group_blocks(group: Group, locale: str) -> list[dict[str, Any]]:
    blocks = [_header(group.heading)]
    blocks += [_section(text, press) for text, press in group.lines[:group.shown]]
    if group.shown == 0 and group.total == 0 and group.empty:
        blocks.append(_section(group.empty))
    if group.cut:
        blocks.append(_section(label("home_more", locale, count=group.total - group.shown), group.more))
    return blocks


def _actions(locale: str, manager: bool) -> dict[str, Any]:
    presses = [Press(label("home_new_lead", locale), OPEN_MODAL + "lead")]
    if not manager:
        presses += [Press(label("home_visit_report", locale), OPEN_MODAL + "visit"),
                    Press(label("home_win", locale), OPEN_MODAL + "win")]
    return {"type": "actions", "elements": [_button(p) for p in presses]}


def home_view(home: Home) -> dict[str, Any]:
    """The Home tab of this person, in his language, at most MAX_HOME_BLOCKS blocks."""
    locale = home.locale
    if home.manager is not None:
        title = label("home_manager_title", locale, name=home.manager.name)
        groups = manager_groups(home.manager, locale)
    else:
        assert home.rep is not None
        title = label("home_rep_title", locale, name=home.rep.name)
        groups = rep_groups(home.rep, locale)
    updated = {"type": "context", "elements": [
        {"type": "mrkdwn", "text": escape(label("home_updated", locale, when=format_when(home.as_of, locale)))}]}
    fixed = [_header(title), updated, _actions(locale, home.manager is not None)]
    fit(groups, MAX_HOME_BLOCKS - len(fixed))
    blocks = fixed[:2] + [b for g in groups for b in _group_blocks(g, locale)] + fixed[2:]
    return {"type": "home", "blocks": blocks[:MAX_HOME_BLOCKS]}


def unlinked_view(locale: str) -> dict[str, Any]:
    """The Home of someone not linked yet: how to join."""
    return {"type": "home", "blocks": [_section(render_text("errors/not_linked", locale, command_prefix="/crm "))]}
