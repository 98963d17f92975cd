"""Slack modals: the forms (new lead, visit report, win, follow-up), their views within Slack's
limits, and reading a submission back into the fields of the commands it runs.

Each input block's block_id is the name of its field, so a refusal naming a field (Reply.refused_field)
is shown beside it (`block_of`). A form runs one command, or two in order (a win, then the payment
received with it). Every word comes from the templates (labels/home.j2).
"""
from dataclasses import dataclass, field
from typing import Any

from bot.adapters.slack.blocks import MAX_TEXT, clip, escape
from bot.i18n import label
from bot.services.home.choices import Choice

FORM_CALLBACK = "crm_form:"  # a modal's callback_id: FORM_CALLBACK + its kind
MAX_TITLE = 24  # a modal's title, submit and close
MAX_LABEL = 2000
MAX_INPUT = 3000  # plain_text_input max_length
MAX_OPTION_TEXT = 75
MAX_OPTIONS = 100
MAX_METADATA = 3000
DEFAULT_REMIND_TIME = "09:00"


@dataclass(frozen=True)
class Field:
    name: str  # block_id, and the form field of the command unless a Step maps it
    kind: str = "text"  # text | long | select | date | time
    optional: bool = True
    max_length: int = MAX_INPUT
    options: tuple[str, ...] = ()  # select: values; each labelled by its label key `option_label` + value
    pick: bool = False  # a menu of the person's records when the form is opened with a list for it
    # A menu of several kinds of his records (keys of GROUPS), one option group each, valued by ref
    # ("l7", "c12"): offered when every list is known and all fit in one menu, else the ref is typed.
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Step:
    """One command the form runs: its form fields, each taken from a block (field -> block id)."""

    command: str
    fields: dict[str, str]
    fixed: dict[str, str] = field(default_factory=dict)
    only_if: str | None = None  # run only when this block was filled in


@dataclass(frozen=True)
class Form:
    kind: str
    title: str  # label key
    fields: tuple[Field, ...]
    steps: tuple[Step, ...]
    option_label: str = ""

    def block_of(self, step: Step, refused_field: str | None) -> str:
        """The block a refusal is shown on: its field's, or the first one's."""
        block = step.fields.get(refused_field or "", refused_field)
        return block if any(f.name == block for f in self.fields) else self.fields[0].name


OUTCOMES = ("interested", "ordered", "undecided", "not_interested", "not_met")

FORMS = {form.kind: form for form in (
    Form("lead", "modal_new_lead",
         (Field("company", optional=False, max_length=200), Field("contact", max_length=100),
          Field("phone", max_length=40), Field("region", max_length=100)),
         (Step("newlead", {"company": "company", "contact": "contact", "phone": "phone", "region": "region"}),)),
    Form("visit", "modal_visit_report",
         (Field("note", "long", max_length=2000), Field("outcome", "select", options=OUTCOMES),
          Field("next_step", max_length=500), Field("remind_date", "date"), Field("remind_time", "time")),
         (Step("visit", {"note": "note", "outcome": "outcome", "next_step": "next_step", "remind": "remind_date"},
               fixed={"target": "end"}),),
         option_label="outcome_"),
    Form("win", "modal_win",
         (Field("deal", optional=False, max_length=40, pick=True), Field("amount", max_length=40),
          Field("payment_amount", max_length=40), Field("payment_date", "date")),
         (Step("win", {"deal": "deal", "amount": "amount"}),
          Step("paid", {"deal": "deal", "amount": "payment_amount", "date": "payment_date"},
               only_if="payment_amount"))),
    Form("follow", "modal_follow_up",
         (Field("lead", optional=False, max_length=40, pick=True, groups=("lead", "customer")),
          Field("note", "long", optional=False, max_length=2000)),
         (Step("follow", {"lead": "lead", "note": "note"}),)),
)}
# A kind of record in a grouped menu: the prefix of its ref (as /follow, plans and /nearby name it)
# and the label key of its options; each group is headed by the label "form_group_" + kind.
GROUPS = {"lead": ("l", "form_choice"), "customer": ("c", "form_choice_customer")}
SHORTCUTS = {"new_lead": "lead", "visit_report": "visit", "win": "win", "add_follow_up": "follow"}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit] or " ", "emoji": True}


def _select(name: str, options: list[dict[str, Any]], initial: str) -> dict[str, Any]:
    element = {"type": "static_select", "action_id": name, "options": options[:MAX_OPTIONS]}
    chosen = [o for o in element["options"] if o["value"] == initial]
    if chosen:
        element["initial_option"] = chosen[0]
    return element


def _option(key: str, locale: str, choice: Choice, value: str) -> dict[str, Any]:
    return {"text": _plain(label(key, locale, name=choice.name, id=choice.id), MAX_OPTION_TEXT), "value": value}


def _grouped(spec: Field, locale: str, initial: str, picks: dict[str, list[Choice] | None]) -> dict[str, Any] | None:
    """One menu of his records of several kinds, a group each, valued by ref; None when a list is
    unknown (too many), all are empty, or together they pass Slack's options in one menu."""
    lists = [(kind, picks.get(kind)) for kind in spec.groups]
    if any(rows is None for _, rows in lists):
        return None
    total = sum(len(rows or ()) for _, rows in lists)
    if not 0 < total <= MAX_OPTIONS:
        return None
    groups = [{"label": _plain(label("form_group_" + kind, locale), MAX_OPTION_TEXT),
               "options": [_option(GROUPS[kind][1], locale, c, GROUPS[kind][0] + str(c.id)) for c in rows]}
              for kind, rows in lists if rows]
    element: dict[str, Any] = {"type": "static_select", "action_id": spec.name, "option_groups": groups}
    wanted = GROUPS[spec.groups[0]][0] + initial if initial.isdigit() else initial  # a bare number: the first kind
    chosen = [o for g in groups for o in g["options"] if o["value"] == wanted]
    if chosen:
        element["initial_option"] = chosen[0]
    return element


def _element(form: Form, spec: Field, locale: str, initial: str,
             picks: dict[str, list[Choice] | None]) -> dict[str, Any]:
    action = {"action_id": spec.name}
    if spec.kind == "select":
        return _select(spec.name, [{"text": _plain(label(form.option_label + v, locale), MAX_OPTION_TEXT), "value": v}
                                   for v in spec.options], initial)
    if spec.pick and spec.groups and (menu := _grouped(spec, locale, initial, picks)):
        return menu
    mine = picks.get(spec.name) if spec.pick and not spec.groups else None
    if mine:  # his records, by number; none or too many: the number typed instead
        return _select(spec.name, [_option("form_choice", locale, c, str(c.id)) for c in mine], initial)
    if spec.kind == "date":
        return {"type": "datepicker", **action, **({"initial_date": initial} if initial else {})}
    if spec.kind == "time":
        return {"type": "timepicker", **action, **({"initial_time": initial} if initial else {})}
    element = {"type": "plain_text_input", **action, "max_length": min(spec.max_length, MAX_INPUT),
               "multiline": spec.kind == "long"}
    if initial:
        element["initial_value"] = initial[:element["max_length"]]
    return element


def modal_view(kind: str, locale: str, initial: dict[str, str] | None = None, metadata: str = "",
               picks: dict[str, list[Choice] | None] | None = None) -> dict[str, Any]:
    """The modal of one form, in the person's language, its fields prefilled from `initial`; a field
    that picks a record is a menu of `picks[name]` when there is such a list (of `picks[kind]` for
    each kind of a grouped menu)."""
    form = FORMS[kind]
    initial, picks = initial or {}, picks or {}
    blocks = [{"type": "input", "block_id": spec.name, "optional": spec.optional,
               "label": _plain(label(f"field_{spec.name}", locale), MAX_LABEL),
               "element": _element(form, spec, locale, initial.get(spec.name, ""), picks)}
              for spec in form.fields]
    return {"type": "modal", "callback_id": FORM_CALLBACK + kind, "title": _plain(label(form.title, locale), MAX_TITLE),
            "submit": _plain(label("modal_submit", locale), MAX_TITLE),
            "close": _plain(label("modal_close", locale), MAX_TITLE),
            "private_metadata": metadata[:MAX_METADATA], "blocks": blocks}


def result_view(kind: str, locale: str, texts: list[str]) -> dict[str, Any]:
    """What the modal becomes when its form was partly done (a win recorded, its payment refused)."""
    return {"type": "modal", "callback_id": FORM_CALLBACK + kind + ":done",
            "title": _plain(label(FORMS[kind].title, locale), MAX_TITLE),
            "close": _plain(label("modal_close_done", locale), MAX_TITLE),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": clip(escape(t), MAX_TEXT) or " "}}
                       for t in texts if t][:100]}


def values(view: object) -> dict[str, str]:
    """The filled-in blocks of a submitted view, by block id (whatever the payload holds: strings only)."""
    state = view.get("state") if isinstance(view, dict) else None
    blocks = state.get("values") if isinstance(state, dict) else None
    found: dict[str, str] = {}
    for block_id, actions in (blocks or {}).items() if isinstance(blocks, dict) else ():
        if not isinstance(actions, dict):
            continue
        for action in actions.values():
            value = _value(action)
            if value:
                found[str(block_id)] = value
    return found


def _value(action: object) -> str:
    if not isinstance(action, dict):
        return ""
    option = action.get("selected_option")
    candidates = (action.get("value"), option.get("value") if isinstance(option, dict) else None,
                  action.get("selected_date"), action.get("selected_time"))
    return next((c for c in candidates if isinstance(c, str) and c), "")


def step_form(step: Step, filled: dict[str, str]) -> dict[str, str] | None:
    """The form fields of one step from the filled-in blocks; None when the step is to be skipped.
    A reminder's date and time pickers give its ISO form, read in the person's own time zone."""
    if step.only_if and not filled.get(step.only_if):
        return None
    form = dict(step.fixed)
    for name, block in step.fields.items():
        value = filled.get(block, "")
        if block == "remind_date":
            value = f"{value} {filled.get('remind_time') or DEFAULT_REMIND_TIME}" if value else filled.get(
                "remind_time", "")
        if value:
            form[name] = value
    return form
