"""What the fake Slack API refuses in a view, as Slack does (views.publish, views.open, views.update,
and a view_submission's `response_action` answer): Block Kit's documented limits.

`view_problem(view)` is None for a view Slack would take, else the first problem found, worded as a
person reading the test would want it ("blocks[3].text: 3001 > 3000").
"""
import json
from typing import Any

MAX_BLOCKS = 100
MAX_TITLE = 24
MAX_ID = 255
MAX_METADATA = 3000
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_HEADER = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_LABEL = 2000
MAX_INPUT = 3000
MAX_OPTIONS = 100
MAX_OPTION_GROUPS = 100
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_ACTIONS = 25
MAX_CONTEXT = 10
MAX_FIELDS = 10
MAX_ERROR = 2000


def _text(obj: object, where: str, limit: int, plain: bool = False) -> str | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
        return f"{where}: not a text object"
    if plain and obj.get("type") != "plain_text":
        return f"{where}: must be plain_text"
    text = obj["text"]
    if not text:
        return f"{where}: empty"
    return f"{where}: {len(text)} > {limit}" if len(text) > limit else None


def _id(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        return f"{where}: bad id"
    return None


def _options(options: object, where: str) -> str | None:
    if not isinstance(options, list) or not 0 < len(options) <= MAX_OPTIONS:
        return f"{where}: count"
    for n, option in enumerate(options):
        problem = _text(option.get("text") if isinstance(option, dict) else None, f"{where}[{n}]",
                        MAX_OPTION_TEXT, plain=True)
        value = option.get("value") if isinstance(option, dict) else None
        if problem or not isinstance(value, str) or len(value) > MAX_OPTION_VALUE:
            return problem or f"{where}[{n}].value"
    return None


def _select(element: dict, where: str) -> str | None:
    """A static_select has options or option_groups (not both): at most 100 groups, each labelled
    (plain text, 75 characters) with its options, and at most 100 options in all; an initial option
    must be one of them."""
    if ("options" in element) == ("option_groups" in element):
        return f"{where}: options or option_groups, one of them"
    if "options" in element:
        every = element["options"]
        problem = _options(every, f"{where}.options")
    else:
        groups = element["option_groups"]
        if not isinstance(groups, list) or not 0 < len(groups) <= MAX_OPTION_GROUPS:
            return f"{where}.option_groups: count"
        problem, every = None, []
        for n, group in enumerate(groups):
            if not isinstance(group, dict):
                return f"{where}.option_groups[{n}]: not an object"
            problem = (_text(group.get("label"), f"{where}.option_groups[{n}].label", MAX_OPTION_TEXT, plain=True)
                       or _options(group.get("options"), f"{where}.option_groups[{n}].options"))
            if problem:
                return problem
            every += group["options"]
        if len(every) > MAX_OPTIONS:
            return f"{where}.option_groups: {len(every)} options > {MAX_OPTIONS}"
    if problem:
        return problem
    initial = element.get("initial_option")
    if initial is not None and initial not in every:
        return f"{where}.initial_option: not one of the options"
    return None


def _element(element: object, where: str) -> str | None:
    if not isinstance(element, dict):
        return f"{where}: not an object"
    kind = element.get("type")
    problem = _id(element.get("action_id"), f"{where}.action_id")
    if problem:
        return problem
    if kind == "button":
        value = element.get("value")
        if value is not None and (not isinstance(value, str) or len(value) > MAX_BUTTON_VALUE):
            return f"{where}.value: too long"
        return _text(element.get("text"), f"{where}.text", MAX_BUTTON_TEXT, plain=True)
    if kind == "plain_text_input":
        most = element.get("max_length", MAX_INPUT)
        if not isinstance(most, int) or not 0 < most <= MAX_INPUT:
            return f"{where}.max_length: {most}"
        initial = element.get("initial_value")
        if initial is not None and (not isinstance(initial, str) or len(initial) > most):
            return f"{where}.initial_value: longer than max_length"
        return None
    if kind == "static_select":
        return _select(element, where)
    if kind in ("datepicker", "timepicker", "datetimepicker", "image", "overflow", "users_select",
                "external_select", "checkboxes", "radio_buttons", "conversations_select", "channels_select"):
        return None
    return f"{where}: unknown element {kind!r}"


def _block(block: object, where: str, modal: bool) -> str | None:
    if not isinstance(block, dict):
        return f"{where}: not an object"
    problem = _id(block.get("block_id"), f"{where}.block_id")
    if problem:
        return problem
    kind = block.get("type")
    if kind == "header":
        return _text(block.get("text"), f"{where}.text", MAX_HEADER, plain=True)
    if kind == "divider":
        return None
    if kind == "section":
        if "text" not in block and "fields" not in block:
            return f"{where}: neither text nor fields"
        if "text" in block and (problem := _text(block["text"], f"{where}.text", MAX_SECTION_TEXT)):
            return problem
        fields = block.get("fields", [])
        if len(fields) > MAX_FIELDS:
            return f"{where}.fields: {len(fields)} > {MAX_FIELDS}"
        for n, item in enumerate(fields):
            if problem := _text(item, f"{where}.fields[{n}]", MAX_FIELD_TEXT):
                return problem
        return _element(block["accessory"], f"{where}.accessory") if "accessory" in block else None
    if kind == "context":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 0 < len(elements) <= MAX_CONTEXT:
            return f"{where}.elements: count"
        return next((p for n, e in enumerate(elements) if (p := _text(e, f"{where}.elements[{n}]", MAX_SECTION_TEXT))),
                    None)
    if kind == "actions":
        elements = block.get("elements")
        if not isinstance(elements, list) or not 0 < len(elements) <= MAX_ACTIONS:
            return f"{where}.elements: count"
        ids = [e.get("action_id") for e in elements if isinstance(e, dict) and e.get("action_id")]
        if len(ids) != len(set(ids)):
            return f"{where}.elements: action_id repeated"
        return next((p for n, e in enumerate(elements) if (p := _element(e, f"{where}.elements[{n}]"))), None)
    if kind == "input":
        if not modal:
            return f"{where}: input blocks only in a modal here"
        return (_text(block.get("label"), f"{where}.label", MAX_LABEL, plain=True)
                or _element(block.get("element"), f"{where}.element"))
    return f"{where}: unknown block {kind!r}"


def view_problem(view: object) -> str | None:
    """The first thing Slack would refuse in this view (a dict or its JSON), or None."""
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            return "view: not JSON"
    if not isinstance(view, dict) or view.get("type") not in ("home", "modal"):
        return "view.type"
    modal = view["type"] == "modal"
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        return "view.blocks: missing"
    if len(blocks) > MAX_BLOCKS:
        return f"view.blocks: {len(blocks)} > {MAX_BLOCKS}"
    metadata = view.get("private_metadata", "")
    if not isinstance(metadata, str) or len(metadata) > MAX_METADATA:
        return "view.private_metadata: too long"
    if problem := _id(view.get("callback_id"), "view.callback_id") or _id(view.get("external_id"), "view.external_id"):
        return problem
    if modal:
        for key in ("title", "submit", "close"):
            if (key == "title" or key in view) and (problem := _text(view.get(key), f"view.{key}", MAX_TITLE, True)):
                return problem
        if any(isinstance(b, dict) and b.get("type") == "input" for b in blocks) and "submit" not in view:
            return "view.submit: required with input blocks"
    block_ids = [b.get("block_id") for b in blocks if isinstance(b, dict) and b.get("block_id")]
    if len(block_ids) != len(set(block_ids)):
        return "view.blocks: block_id repeated"
    return next((p for n, b in enumerate(blocks) if (p := _block(b, f"blocks[{n}]", modal))), None)


def errors_problem(errors: object, view: dict[str, Any]) -> str | None:
    """What Slack refuses in a `response_action: errors` answer: each key an input block of the view."""
    if not isinstance(errors, dict) or not errors:
        return "errors: empty"
    inputs = {b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"}
    for key, message in errors.items():
        if key not in inputs:
            return f"errors.{key}: no such input block"
        if not isinstance(message, str) or not message or len(message) > MAX_ERROR:
            return f"errors.{key}: bad message"
    return None
