"""Slack's HTTP requests at the edge, before bolt sees them.

In order: the signature over the raw bytes (nothing is parsed before it holds), then the body
(UTF-8 only; JSON, a form, or a form carrying a JSON `payload`), then its shape: every field that
bolt or `inbound` reads by type must have that type. A refusal carries the HTTP status and a short
code for machines; nothing here raises anything else.
"""
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
MAX_DEPTH = 32
MAX_AGE_S = 5 * 60  # Slack's replay window
# Fields read as identifiers or plain strings wherever they appear in a checked object.
STRINGS = frozenset({
    "id", "team_id", "enterprise_id", "user_id", "channel_id", "type", "subtype", "ts", "thread_ts",
    "channel_type", "bot_id", "user_team", "source_team", "app_installed_team_id", "execution_id",
    "bot_access_token", "function_execution_id", "response_url", "trigger_id", "command",
    "action_id", "block_id", "value", "action_ts", "challenge", "token", "api_app_id", "event_id",
    "context_team_id", "context_enterprise_id", "user_name", "username", "name", "ssl_check",
    "callback_id", "private_metadata", "hash", "tab",
})
# Objects bolt and the adapter look into, checked with the same rules.
OBJECTS = frozenset({"event", "message", "previous_message", "item", "assistant_thread", "function_data",
                     "container", "view"})
OBJECT_OR_ID = frozenset({"team", "enterprise", "user", "channel"})
LISTS = frozenset({"authorizations", "actions"})
NEVER_NULL = frozenset({"view", "event"})
TEXT_HOLDERS = frozenset({"", "event", "message", "previous_message"})  # where "text" is a string


class Refusal(Exception):
    """Not for bolt: answer `status` with `code` as the body."""

    def __init__(self, status: int, code: str):
        super().__init__(code)
        self.status, self.code = status, code


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> None:
    """Refusal(401) unless Slack signed these bytes within the last five minutes."""
    timestamp = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    if not TIMESTAMP.fullmatch(timestamp) or not SIGNATURE.fullmatch(signature):
        raise Refusal(401, "bad_signature")
    if abs(time.time() - int(timestamp)) > MAX_AGE_S:
        raise Refusal(401, "stale_timestamp")
    # Over the bytes as they came: slack_sdk's SignatureVerifier decodes them as UTF-8 first,
    # which raises on a body that is not.
    expected = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    if not hmac.compare_digest("v0=" + expected.hexdigest(), signature):
        raise Refusal(401, "bad_signature")


def read_body(content_type: str, charset: str | None, body: bytes) -> dict[str, Any]:
    """The payload of a signed request; Refusal(400) when it cannot be read."""
    if charset is not None and charset.lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise Refusal(400, "bad_charset")
    try:
        text = body.decode("utf-8")
        if content_type == "application/json":
            return _object(json.loads(text))
        if content_type == "application/x-www-form-urlencoded":
            form = dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
            return _object(json.loads(form["payload"])) if "payload" in form else form
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise Refusal(400, "unreadable_body") from None
    raise Refusal(400, "bad_content_type")


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Refusal(400, "not_an_object")
    return value


def shape_problem(payload: dict[str, Any]) -> str | None:
    """The first field of a wrong type ("event.user: int"), or None when bolt may read it."""
    if _depth(payload) > MAX_DEPTH:
        return "nested too deep"
    if payload.get("type") == "event_callback" and not isinstance(payload.get("event"), dict):
        return "event: missing"
    if payload.get("type") in ("block_actions", "interactive_message") and not payload.get("actions"):
        return "actions: missing"
    if payload.get("type") in ("view_submission", "view_closed") and not isinstance(payload.get("view"), dict):
        return "view: missing"
    return _check(payload, "")


def _check(obj: dict[str, Any], where: str) -> str | None:
    for key, value in obj.items():
        problem = _field(key, value, where)
        if problem is not None:
            return problem
    return None


def _field(key: str, value: object, where: str) -> str | None:
    path = f"{where}.{key}" if where else key
    wrong = f"{path}: {type(value).__name__}"
    if value is None:  # bolt looks inside these whenever the key is there ("callback_id" in body["view"])
        return wrong if key in NEVER_NULL else None
    if key == "response_url":  # the answer is posted there
        return None if isinstance(value, str) and value.startswith(("https://", "http://")) else wrong
    if key in STRINGS or (key == "text" and where.split(".")[-1] in TEXT_HOLDERS):
        return None if isinstance(value, str) else wrong
    if key in ("is_enterprise_install", "is_ext_shared_channel"):
        return None if isinstance(value, bool | str) else wrong
    if key in OBJECTS or key in OBJECT_OR_ID:
        if isinstance(value, dict):
            return _check(value, key)
        return None if key in OBJECT_OR_ID and isinstance(value, str) else wrong
    if key in LISTS:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            return wrong
        return next((p for item in value if (p := _check(item, key)) is not None), None)
    return None


def _depth(value: object) -> int:
    """How deeply lists and objects nest (iteratively: a hostile body must not exhaust the stack)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest
