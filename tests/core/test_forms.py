"""A command filled from a form (a Slack modal, the Mini App): the same handler, permission and
audit as the typed line, every field taken as typed (apostrophes, quotes, `--`), and a field at
fault named so the form can show the message beside it."""
from sqlalchemy import select

from bot.adapters.console import COMMAND_PREFIX, PLATFORM, WORKSPACE
from bot.errors import UsageError
from bot.handlers.args import Flag, Param, parse_form
from bot.messages import Incoming
from db.models import Lead


def form_incoming(user: str, command: str, form: dict) -> Incoming:
    return Incoming(platform=PLATFORM, workspace=WORKSPACE, command_prefix=COMMAND_PREFIX, chat_id=f"@{user}",
                    user_id=user, command=command, form=form)


def test_a_new_lead_from_a_form_keeps_apostrophes_and_dashes_as_typed(router, demo_org):
    [reply] = router.handle(form_incoming("li", "newlead", {
        "company": "O'Brien \"Steel\" -- Works", "contact": "Seán O'Neil", "phone": "", "region": "East"}))
    assert "O'Brien" in reply.text and not reply.refused
    with router.db.uow() as uow:
        lead = uow.session.scalars(select(Lead).where(Lead.company == "O'Brien \"Steel\" -- Works")).one()
        assert lead.contact_name == "Seán O'Neil"


def test_a_field_of_the_wrong_kind_or_missing_is_named():
    params = (Param("lead"), Param("amount", "decimal"), Param("note", "text", optional=True))
    flags = (Flag("paid", "bool"), Flag("on", "date"))
    values = parse_form("win", {"lead": "12", "amount": "20,000", "paid": "true", "on": ""}, params, flags)
    assert values == {"lead": "12", "amount": 20000, "note": None, "paid": True, "on": None}
    for form, field in [({"amount": "5"}, "lead"), ({"lead": "1", "amount": "lots"}, "amount"),
                        ({"lead": "1", "amount": "5", "on": "next week"}, "on"),
                        ({"lead": "1", "amount": "5", "colour": "red"}, "colour"),
                        ({"lead": "1", "amount": ["5"]}, "amount")]:
        try:
            parse_form("win", form, params, flags)
        except UsageError as error:
            assert error.field == field, (form, error.field)
        else:
            raise AssertionError(f"{form} was accepted")


def test_a_form_error_reads_in_the_users_language_and_writes_nothing(router, demo_org):
    with router.db.uow() as uow:
        before = uow.session.scalar(select(Lead.id).order_by(Lead.id.desc()).limit(1))
    [reply] = router.handle(form_incoming("li", "newlead", {"company": "   "}))
    assert "此项必填" in reply.text  # Li's language is Chinese in the demo org
    assert (reply.refused, reply.refused_field) == (True, "company")
    with router.db.uow() as uow:
        assert uow.session.scalar(select(Lead.id).order_by(Lead.id.desc()).limit(1)) == before
