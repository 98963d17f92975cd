"""JSON columns (db.json_values): what JSON has no type for is kept tagged and comes back as its
type, through a real outbox row on each database; what cannot be kept is refused, nothing written."""
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from bot.messages import Templated
from db.models import OutboxMessage, Role


@dataclass(frozen=True)
class Totals:
    amount: Decimal

    @property
    def doubled(self) -> Decimal:
        return self.amount * 2


def kept(db, context: dict) -> dict:
    with db.uow() as uow:
        uow.session.add(OutboxMessage(platform="console", chat_id="#x", payload=Templated("t", "en", context).to_json()))
        uow.commit()
    with db.uow() as uow:
        return Templated.from_json(uow.session.scalar(select(OutboxMessage.payload))).context


def test_values_json_has_no_type_for_come_back_as_their_type(db):
    context = {"day": date(2026, 12, 7), "at": datetime(2026, 12, 7, 0, 30, tzinfo=UTC), "amount": Decimal("12.50"),
               "file": b"\x00\xff", "tags": {"vip"}, "role": Role.REP, 7: "a number as a key",
               "totals": Totals(Decimal("3.10")), "stops": ({"name": "客户 O'Brien", "km": 1.5},)}
    assert kept(db, context) == {
        "day": date(2026, 12, 7), "at": datetime(2026, 12, 7, 0, 30, tzinfo=UTC), "amount": Decimal("12.50"),
        "file": b"\x00\xff", "tags": ["vip"], "role": "rep", "7": "a number as a key",
        "totals": {"amount": Decimal("3.10"), "doubled": Decimal("6.20")},
        "stops": [{"name": "客户 O'Brien", "km": 1.5}]}


def test_a_value_no_column_can_keep_is_refused_and_nothing_is_written(db):
    with pytest.raises((StatementError, TypeError), match="not JSON serializable: object"), db.uow() as uow:
        uow.session.add(OutboxMessage(platform="console", chat_id="#x", payload={"what": object()}))
        uow.commit()
    with db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
