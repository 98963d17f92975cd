"""Telegram webhook bodies at the edge, before python-telegram-bot reads them.

PTB builds its objects from whatever JSON it is given without checking types, so a wrongly typed
field (a numeric `language_code`, a string `chat.id`) would surface later, deep in the router or
in PTB's own error handling. Every field the adapter reads is checked here, by type, against the
Bot API's documented shape; fields it does not read are left to PTB.
"""
import json
from typing import Any

# A field's expected type: a Python type, a nested shape, or a one-element list (a list of it).
Shape = dict[str, tuple[Any, bool]]  # name -> (expected, required)

INT, NUMBER, TEXT, FLAG = "int", "number", "text", "flag"

USER: Shape = {
    "id": (INT, True), "is_bot": (FLAG, True), "first_name": (TEXT, True), "last_name": (TEXT, False),
    "username": (TEXT, False), "language_code": (TEXT, False),
}
CHAT: Shape = {
    "id": (INT, True), "type": (TEXT, True), "title": (TEXT, False), "username": (TEXT, False),
    "first_name": (TEXT, False), "last_name": (TEXT, False),
}
LOCATION: Shape = {
    "latitude": (NUMBER, True), "longitude": (NUMBER, True), "horizontal_accuracy": (NUMBER, False),
    "live_period": (INT, False), "heading": (INT, False), "proximity_alert_radius": (INT, False),
}
ENTITY: Shape = {"type": (TEXT, True), "offset": (INT, True), "length": (INT, True)}
MESSAGE: Shape = {
    "message_id": (INT, True), "date": (INT, True), "edit_date": (INT, False), "chat": (CHAT, True),
    "from": (USER, False), "text": (TEXT, False), "entities": ([ENTITY], False),
    "location": (LOCATION, False), "venue": ({"location": (LOCATION, True)}, False),
    "forward_origin": ({}, False), "forward_date": (INT, False),
}
CALLBACK_QUERY: Shape = {
    "id": (TEXT, True), "from": (USER, True), "data": (TEXT, False), "message": (MESSAGE, False),
    "chat_instance": (TEXT, True),
}
UPDATE: Shape = {
    "update_id": (INT, True), "message": (MESSAGE, False), "edited_message": (MESSAGE, False),
    "callback_query": (CALLBACK_QUERY, False),
}


class Unreadable(Exception):
    """Not an update at all (not UTF-8 JSON, not an object, no numeric update_id): a 400."""


def read_update(body: bytes) -> dict[str, Any]:
    """The update object of a webhook body; Unreadable when it is not one."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        raise Unreadable("not UTF-8 JSON") from None
    if not isinstance(data, dict) or _kind_problem(INT, data.get("update_id")):
        raise Unreadable("not an update")
    return data


def shape_problem(update: dict[str, Any]) -> str | None:
    """The first field of a wrong type or missing ("message.from.language_code: int"), or None."""
    return _check(update, UPDATE, "")


def _check(data: dict[str, Any], shape: Shape, where: str) -> str | None:
    for name, (expected, required) in shape.items():
        path = f"{where}.{name}" if where else name
        value = data.get(name)
        if value is None:
            if required:
                return f"{path}: missing"
            continue
        problem = _value_problem(expected, value, path)
        if problem is not None:
            return problem
    return None


def _value_problem(expected: Any, value: object, path: str) -> str | None:
    if isinstance(expected, dict):
        return _check(value, expected, path) if isinstance(value, dict) else f"{path}: {type(value).__name__}"
    if isinstance(expected, list):
        if not isinstance(value, list):
            return f"{path}: {type(value).__name__}"
        return next((p for i, item in enumerate(value) if (p := _value_problem(expected[0], item, f"{path}[{i}]"))),
                    None)
    return f"{path}: {type(value).__name__}" if _kind_problem(expected, value) else None


def _kind_problem(kind: str, value: object) -> bool:
    if kind == FLAG:
        return not isinstance(value, bool)
    if kind == TEXT:
        return not isinstance(value, str)
    if isinstance(value, bool):  # True is an int to Python, not to the Bot API
        return True
    if kind == INT:
        return not isinstance(value, int) or abs(value) >= 2**63
    return not isinstance(value, int | float) or value != value or abs(value) == float("inf")
