"""Exports: CSV and XLSX from the CLI for the whole company or one unit, and /export in chat as a file,
limited to the manager's scope."""
import csv
import io
from datetime import timedelta
from decimal import Decimal

from openpyxl import load_workbook
from sqlalchemy import select

from bot.cli import main as fieldcrm
from bot.messages import Incoming
from bot.services.core import identity
from db.base import utcnow
from db.models import Customer, OrgUnit, User, Visit
from db.models.deal import Deal
from tests.conftest import say


def seed(db):
    now = utcnow()
    with db.uow() as uow:
        for handle in ("li", "sam"):
            user = identity.find_user(uow, handle)
            customer = Customer(name=f"{handle.upper()} 客户 Co", name_key=f"{handle}co", owner_id=user.id)
            uow.session.add(customer)
            uow.session.flush()
            uow.session.add(Deal(name=f"{handle} deal", customer_id=customer.id, owner_id=user.id,
                                 stage="won", amount=Decimal("1234.50"), won_at=now))
            uow.session.add(Visit(user_id=user.id, customer_id=customer.id, started_at=now - timedelta(days=3),
                                  verdict="verified", counts=True, note=f"{handle} visit"))
        uow.commit()


def test_cli_exports_csv_and_xlsx_for_one_unit(db, demo_org, tmp_path, monkeypatch, capsys):
    seed(db)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db.url)
    out = tmp_path / "deals.csv"
    assert fieldcrm(["export", "deals", "--unit", "East Team", "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert [r["name"] for r in rows] == ["li deal"] and rows[0]["owner"] == "li" and rows[0]["amount"] == "1234.50"
    assert "Exported 1 row of" in capsys.readouterr().out
    book = tmp_path / "customers.xlsx"
    assert fieldcrm(["export", "customers", "--out", str(book)]) == 0
    sheet = load_workbook(book).active
    values = list(sheet.values)
    assert values[0][:2] == ("id", "name") and {v[1] for v in values[1:]} == {"LI 客户 Co", "SAM 客户 Co"}
    today = utcnow().date()
    visits = tmp_path / "visits.csv"
    assert fieldcrm(["export", "visits", "--since", str(today), "--out", str(visits)]) == 0
    assert len(visits.read_text(encoding="utf-8-sig").splitlines()) == 1  # both visits are 3 days old
    assert fieldcrm(["export", "visits", "--unit", "Mars", "--out", str(visits)]) == 2
    assert 'no unit "Mars"' in capsys.readouterr().err
    assert fieldcrm(["export", "visits", "--out", str(tmp_path / "v.pdf")]) == 2
    assert not (tmp_path / "v.pdf").exists()


def test_export_in_chat_is_a_file_of_what_the_manager_may_see(db, demo_org, router, monkeypatch):
    seed(db)
    with db.uow() as uow:
        east = uow.session.scalar(select(OrgUnit.id).where(OrgUnit.name == "East Team"))
        uow.session.add(User(handle="eastboss", name="East Boss", unit_id=east, role="manager",
                             data_scope="subtree", locale="en"))
        uow.commit()
        from bot.services.core import org

        org.link_console_identity(uow, identity.find_user(uow, "eastboss").id, "eastboss", utcnow())
        uow.commit()

    def ask(who, line):
        name, _, args = line.partition(" ")
        return router.handle(Incoming(platform="console", workspace="local", chat_id=f"@{who}", user_id=who,
                                      command=name, args=args))[0]

    reply = ask("eastboss", "export deals --format csv")
    assert reply.file_name.endswith(".csv") and "1 row in" in reply.text
    text = reply.file_bytes.decode("utf-8-sig")
    assert "li deal" in text and "sam deal" not in text
    reply = ask("eastboss", "export visits")
    assert reply.file_name.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(reply.file_bytes)).active
    assert [row[-1] for row in sheet.values][1:] == ["li visit"]
    assert "outside your part" in ask("eastboss", "export deals --unit West Team").text
    assert "after --until" in ask("eastboss", "export deals --since 2026-02-01 --until 2026-01-01").text
    assert ask("li", "export deals").file_bytes is None  # reps cannot export


def test_export_usage_errors(console):
    assert "Usage" in say(console, "/export planets")
