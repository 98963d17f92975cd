"""Names cannot hide characters that change how they look (bidi overrides, zero-width characters), in
chat arguments, imported files and platform display names; emoji sequences and every script stay as typed."""
from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from bot.messages import Incoming
from bot.services.core import identity
from bot.services.core.text import visible
from bot.services.leads import imports
from db.base import utcnow
from db.models import Lead
from tests.conftest import say

SPOOFERS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u200b\u2060\ufeff"
FAMILY = "👨\u200d👩\u200d👧"  # one emoji: man, woman, girl, held together by zero-width joiners
PERSIAN = "می\u200cخواهم"  # the non-joiner is part of the spelling
HINDI = "क्\u200dष"


@given(st.text())
def test_no_spoofing_character_survives_and_cleaning_twice_changes_nothing(text):
    cleaned = visible(text)
    assert not set(cleaned) & set(SPOOFERS)
    assert visible(cleaned) == cleaned


@given(st.text(alphabet=st.characters(blacklist_characters=SPOOFERS + "\u200c\u200d\u00ad\u034f\u180e\u3164\uffa0"
                                      "\u2061\u2062\u2063\u2064")))
def test_text_without_invisible_characters_is_kept_as_typed(text):
    assert visible(text) == text


def test_joiners_stay_where_they_join_and_go_where_they_hide():
    for kept in (FAMILY, "🏳️\u200d🌈", PERSIAN, HINDI, "上海星河贸易 Co., Ltd", "Ünïcödé"):
        assert visible(kept) == kept
    assert visible("Acme\u200devil") == "Acmeevil"
    assert visible("张\u200d三") == "张三"
    assert visible("\u200dAcme\u200c") == "Acme"


def lead_named(db, company: str) -> Lead | None:
    with db.uow() as uow:
        return uow.session.scalar(select(Lead).where(Lead.company == company))


def test_a_new_lead_is_stored_and_shown_without_a_right_to_left_override(console, demo_pool):
    say(console, "/as sam")
    out = say(console, '/newlead "Acme\u202eevil"')
    assert "Acmeevil" in out and "\u202e" not in out
    assert lead_named(demo_pool, "Acmeevil") is not None
    assert "\u202e" not in say(console, "/leads")


def test_emoji_joiners_and_chinese_survive_a_new_lead(console, demo_pool):
    say(console, "/as sam")
    say(console, f'/newlead "Family {FAMILY} 上海星河贸易"')
    assert lead_named(demo_pool, f"Family {FAMILY} 上海星河贸易") is not None


def test_an_imported_name_loses_its_invisible_characters(demo_pool):
    data = "公司名称,联系人\n\ufeff\u200b杭州\u202e西湖茶业,王\u200b芳\n".encode()
    with demo_pool.uow() as uow:
        report = imports.import_leads(uow, data, "leads.csv", "demo pool", utcnow())
        uow.commit()
    assert report.created == 1
    lead = lead_named(demo_pool, "杭州西湖茶业")
    assert lead is not None and lead.contact_name == "王芳"


def test_a_platform_display_name_is_shown_without_spoofing_characters(router, demo_org):
    with demo_org.uow() as uow:
        code = identity.create_invitation(uow, identity.find_user(uow, "sam").id, utcnow(), 14)
        uow.commit()
    base = Incoming(platform="slack", workspace="T1", chat_id="D1", user_id="U9", is_private=True,
                    display_name="sam\u202egnp.exe\u200b")
    router.handle(replace(base, command="join", args=code, event_id="e1"))
    whoami = router.handle(replace(base, command="whoami", event_id="e2"))[0]
    shown = whoami.text + "".join(value for _, value in whoami.fields)
    assert "samgnp.exe" in shown and "\u202e" not in shown and "\u200b" not in shown
