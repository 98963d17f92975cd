"""A Mini App's initData checked as Telegram documents it: a known vector built here with a known token,
then every way to get it wrong (forged, missing or altered, stale, future-dated, doubled, unreadable)."""
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, urlencode

import pytest

from bot.adapters.telegram.initdata import InitDataError, sign, validate

TOKEN = "123456:ABC-known-token"
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
USER = {"id": 555, "first_name": "Li", "last_name": "Lei", "language_code": "zh", "allows_write_to_pm": True}


def signed(token: str = TOKEN, auth_date: datetime = NOW, user: dict | None = None, **extra: str) -> dict[str, str]:
    """initData fields with the hash Telegram would add, computed here from the documented recipe."""
    fields = {"query_id": "AAHdF6IQAAAAAN0XohDhrOrc", "user": json.dumps(user or USER, separators=(",", ":")),
              "auth_date": str(int(auth_date.timestamp())), "signature": "c2lnbmF0dXJl", **extra}
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields)).encode()
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    return {**fields, "hash": hmac.new(secret, check, hashlib.sha256).hexdigest()}


def encoded(fields: dict[str, str]) -> str:
    return urlencode(fields, quote_via=quote)


def problem(init_data: str, now: datetime = NOW) -> str:
    with pytest.raises(InitDataError) as caught:
        validate(init_data, TOKEN, now)
    return caught.value.problem


def test_genuine_init_data_names_the_user():
    user = validate(encoded(signed()), TOKEN, NOW + timedelta(minutes=59))
    assert (user.id, user.full_name, user.language_code, user.auth_date) == (555, "Li Lei", "zh", NOW)


def test_the_signing_helper_follows_the_recipe():
    fields = signed()
    assert sign({k: v for k, v in fields.items() if k != "hash"}, TOKEN) == fields["hash"]


def test_a_hash_made_with_another_token_or_missing_is_refused():
    assert problem(encoded(signed(token="654321:another-bot"))) == "bad_hash"
    fields = signed()
    del fields["hash"]
    assert problem(encoded(fields)) == "bad_hash"
    assert problem(encoded({**signed(), "hash": "0" * 64})) == "bad_hash"
    assert problem("") == "missing"


def test_any_altered_or_added_field_breaks_the_hash():
    other = json.dumps({**USER, "id": 777}, separators=(",", ":"))
    assert problem(encoded({**signed(), "user": other})) == "bad_hash"
    assert problem(encoded({**signed(), "auth_date": str(int(NOW.timestamp()) + 1)})) == "bad_hash"
    assert problem(encoded({**signed(), "chat_type": "private"})) == "bad_hash"


def test_stale_and_future_dated_init_data_is_refused():
    assert problem(encoded(signed(auth_date=NOW - timedelta(hours=1, seconds=1)))) == "expired"
    assert problem(encoded(signed(auth_date=NOW + timedelta(minutes=6)))) == "future"
    validate(encoded(signed(auth_date=NOW + timedelta(minutes=4))), TOKEN, NOW)  # clocks a little apart


def test_a_field_given_twice_is_refused_even_when_one_copy_is_signed():
    genuine = encoded(signed())
    assert problem(genuine + "&user=" + quote(json.dumps({**USER, "id": 777}))) == "duplicate_field"


def test_signed_but_unreadable_user_or_date_is_refused():
    for user in ("not json", json.dumps({"id": "555"}), json.dumps([555]), json.dumps({"id": True})):
        fields = signed()
        fields.pop("hash")
        fields["user"] = user
        assert problem(encoded({**fields, "hash": sign(fields, TOKEN)})) == "bad_user"
    fields = signed()
    fields.pop("hash")
    fields["auth_date"] = "yesterday"
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields)).encode()
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check, hashlib.sha256).hexdigest()
    assert problem(encoded(fields)) == "bad_auth_date"
    assert problem("%ff%fe=1&hash=ab") == "unreadable"
