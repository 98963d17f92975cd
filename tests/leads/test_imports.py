"""CSV import of leads: encodings, Chinese and English headers, duplicates, rejected rows, bad files."""
import pytest
from sqlalchemy import func, select

from bot.cli import main
from bot.services.leads import imports
from db.base import utcnow
from db.models import Lead, LeadEvent
from tests.conftest import say

CHINESE_CSV = "公司名称,联系人,电话,地区,来源,行业\n" \
              "广州白云电器有限公司,黄伟,020-8888 0001,华南,展会,电器\n" \
              "上海星河贸易,陈静,,华东,,\n" \
              "广州白云电器,黄伟,,华南,,\n" \
              ",没有公司,13800000000,,,\n" \
              "🚀🚀,,,,,\n" \
              "南京好运物流,李四,电话坏了abc,,,\n" \
              "\n" \
              "Tianjin Harbor Co. Ltd,Amy,+86 22 1234 5678,华北,web,logistics\n"


def run_import(db, data: bytes, name="leads.csv", pool_name="demo pool"):
    with db.uow() as uow:
        report = imports.import_leads(uow, data, name, pool_name, utcnow())
        uow.commit()
    return report


def lead_count(db) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Lead))


@pytest.mark.parametrize("encoding, label", [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8 BOM"), ("gb18030", "GB18030")])
def test_good_rows_go_in_bad_and_duplicate_rows_are_listed(demo_pool, encoding, label):
    report = run_import(demo_pool, CHINESE_CSV.encode(encoding))
    assert report.encoding == label and report.created == 2
    assert [(r.line, r.detail) for r in report.duplicates] == [(3, "lead #1"), (4, "row 2")]
    assert [(r.line, r.reason) for r in report.rejected] == [(5, "company_missing"), (6, "company_empty"),
                                                            (7, "bad_phone")]
    with demo_pool.uow() as uow:
        new = uow.session.scalars(select(Lead).where(Lead.id > 6).order_by(Lead.id)).all()
        assert [(n.company, n.status, n.region, n.phone_key) for n in new] == [
            ("广州白云电器有限公司", "unassigned", "华南", "+862088880001"),
            ("Tianjin Harbor Co. Ltd", "unassigned", "华北", "+862212345678"),
        ]
        assert uow.session.scalar(select(func.count()).select_from(LeadEvent).where(LeadEvent.lead_id > 6)) == 2


def test_english_headers_and_semicolons(demo_pool):
    data = b"Company Name;Contact;Mobile;Industry\nAcme Robotics GmbH;Eva;+49 30 1234567;robots\n"
    report = run_import(demo_pool, data)
    assert report.created == 1 and lead_count(demo_pool) == 7


@pytest.mark.parametrize("data, template", [
    ("名字,电话\nfoo,123456\n".encode(), "bad_columns"),
    (b"\xff\xfe\x00c\x00o\x00m", "unreadable"),
    ("公司名称\n好公司\n".encode()[:-4] + b"\xff\xff\x80\n", "unreadable"),
    (b"", "bad_columns"),
])
def test_an_unusable_file_imports_nothing(demo_pool, data, template):
    with pytest.raises(imports.ImportProblem) as problem:
        run_import(demo_pool, data)
    assert problem.value.template == template
    assert lead_count(demo_pool) == 6


def test_cli_imports_into_a_named_pool_and_reports(demo_pool, tmp_path, monkeypatch, capsys, settings):
    monkeypatch.setenv("DATABASE_URL", demo_pool.url)
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    path = tmp_path / "leads.csv"
    path.write_bytes(CHINESE_CSV.encode("gb18030"))
    assert main(["import", "leads", str(path), "--pool", "demo pool"]) == 0
    out = capsys.readouterr().out
    assert "created 2, duplicates 2, rejected 3" in out and "row 5: rejected, no company name" in out
    assert main(["import", "leads", str(path), "--pool", "nope"]) == 2
    assert 'no active pool "nope"' in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("name_x,phone\nfoo,1\n")
    assert main(["import", "leads", str(bad), "--pool", "demo pool"]) == 2
    assert "no company column" in capsys.readouterr().err
    assert lead_count(demo_pool) == 8


def test_large_file_shows_progress_on_stderr(demo_pool, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", demo_pool.url)
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    rows = "\n".join(f"Bulk Company {i},Rep,{13900000000 + i}" for i in range(2500))
    path = tmp_path / "big.csv"
    path.write_text("company,contact,phone\n" + rows + "\n")
    assert main(["import", "leads", str(path), "--pool", "demo pool"]) == 0
    captured = capsys.readouterr()
    assert "2500/2500" in captured.err and "created 2500" in captured.out


# Names a GB18030-only decoder garbled: cp1252's accents and Big5's traditional characters.
WESTERN_CSV = "company,contact,note\nCafé Müller GmbH,Jürgen Weiß,deal 5000 €\nSociété Générale,Élodie,\n"
TRADITIONAL_CSV = "公司名稱,聯絡人,電話\n台北華碩電腦股份有限公司,陳先生,02-2894-3447\n高雄鋼鐵廠,林小姐,07-123-4567\n"
SIMPLIFIED_CSV = "公司名称,联系人\n广州白云电器有限公司,黄伟\n南京好运物流,李四\n"


def imported_companies(db) -> list[str]:
    with db.uow() as uow:
        return list(uow.session.scalars(select(Lead.company).where(Lead.id > 6).order_by(Lead.id)))


@pytest.mark.parametrize("text, encoding, label, companies", [
    (WESTERN_CSV, "cp1252", "Windows-1252", ["Café Müller GmbH", "Société Générale"]),
    (TRADITIONAL_CSV, "big5", "Big5", ["台北華碩電腦股份有限公司", "高雄鋼鐵廠"]),
    (SIMPLIFIED_CSV, "gb18030", "GB18030", ["广州白云电器有限公司", "南京好运物流"]),
    (WESTERN_CSV, "utf-8-sig", "UTF-8 BOM", ["Café Müller GmbH", "Société Générale"]),
])
def test_the_encoding_is_recognised_and_the_names_come_in_right(demo_pool, text, encoding, label, companies):
    report = run_import(demo_pool, text.encode(encoding))
    assert report.encoding == label and report.created == len(companies)
    assert imported_companies(demo_pool) == companies


def test_a_cp1252_file_that_is_also_valid_gb18030_is_read_as_cp1252(demo_pool):
    data = "company,contact\nMüller Bräu GmbH,Jürgen\nSchön Trade,Günter\n".encode("cp1252")
    assert "黮" in data.decode("gb18030")  # what used to be imported
    assert run_import(demo_pool, data).encoding == "Windows-1252"
    assert imported_companies(demo_pool) == ["Müller Bräu GmbH", "Schön Trade"]


@pytest.mark.parametrize("text, encoding", [
    ("会社,担当\nトヨタ自動車,山田太郎\nソニー,鈴木\n", "shift_jis"),
    ("company,contact\nГазпром,Иван Петров\nЛукойл,Сергей\n", "cp1251"),
])
def test_an_encoding_that_cannot_be_recognised_surely_is_refused_and_nothing_is_written(demo_pool, text, encoding):
    with pytest.raises(imports.ImportProblem) as problem:
        run_import(demo_pool, text.encode(encoding))
    assert problem.value.template == "unreadable" and problem.value.params == {"cause": "unsure_encoding"}
    assert lead_count(demo_pool) == 6


@pytest.mark.parametrize("locale, expected", [
    ("en", ["its character encoding cannot be recognised with confidence", "UTF-8", "GB18030, Big5"]),
    ("zh", ["无法可靠地识别文件的字符编码", "UTF-8", "GB18030、Big5"]),
])
def test_the_cli_refusal_says_which_encodings_to_save_as(demo_pool, tmp_path, monkeypatch, capsys, locale, expected):
    monkeypatch.setenv("DATABASE_URL", demo_pool.url)
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    monkeypatch.setenv("DEFAULT_LOCALE", locale)
    path = tmp_path / "leads.csv"
    path.write_bytes("会社,担当\nトヨタ自動車,山田太郎\n".encode("shift_jis"))
    assert main(["import", "leads", str(path), "--pool", "demo pool"]) == 2
    err = capsys.readouterr().err
    assert all(part in err for part in expected) and "leads.csv" in err
    assert lead_count(demo_pool) == 6


def test_a_contacts_birthday_and_language_come_in_with_the_lead_and_stay_with_the_contact(console, demo_pool):
    data = ("公司名称,联系人,生日,语言\n"
            "Acme Robotics,Wang Li,03-15,en\n"
            "Beta Trading,Bob,02-30,\n"
            "Gamma Foods,Cat,1980/7/1,fr\n"
            "Delta Steel,Dan,1975-12-01,zh\n").encode()
    report = run_import(demo_pool, data)
    assert report.created == 2
    assert [(r.line, r.reason) for r in report.rejected] == [(3, "bad_birthday"), (4, "bad_language")]
    with demo_pool.uow() as uow:
        acme = uow.session.scalar(select(Lead).where(Lead.company == "Acme Robotics"))
        assert (acme.contact_birthday, acme.contact_language) == ("03-15", "en")
        lead_id = acme.id
    say(console, "/as sam")
    say(console, f"/claim {lead_id}")
    say(console, f"/convert {lead_id} --contact wang li")
    say(console, "/lang en")
    assert "wang li · birthday 03-15 · English" in say(console, "/customer 1")
