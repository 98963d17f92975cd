"""A platform retry (same event id) acts once, whatever the command's outcome."""
from sqlalchemy import func, select

from bot.messages import Incoming
from bot.services.core import identity
from db.base import utcnow
from db.models import InboundEvent, OutboxMessage


def incoming(command: str, args: str = "", event_id: str = "ev-1", user: str = "U9") -> Incoming:
    return Incoming(platform="slack", workspace="T1", chat_id="D1", user_id=user, command=command, args=args,
                    event_id=event_id, is_private=True)


def test_a_retried_join_links_once_and_answers_once(router, demo_org):
    with demo_org.uow() as uow:
        code = identity.create_invitation(uow, identity.find_user(uow, "sam").id, utcnow(), 14)
        uow.commit()
    first = router.handle(incoming("join", code))
    again = router.handle(incoming("join", code))
    assert "Welcome, Sam Carter" in first[0].title and again == []
    with demo_org.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_a_retried_refusal_is_not_answered_twice(router, demo_org):
    assert "not valid" in router.handle(incoming("join", "NOPE2345", event_id="ev-2"))[0].text
    assert router.handle(incoming("join", "NOPE2345", event_id="ev-2")) == []
    with demo_org.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(InboundEvent)) == 1


def test_no_traceback_reaches_the_chat(router, demo_org, monkeypatch):
    from bot.handlers.core import identity as handlers

    def explode(ctx):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(handlers.identity, "profile", explode)
    with demo_org.uow() as uow:
        code = identity.create_invitation(uow, identity.find_user(uow, "sam").id, utcnow(), 14)
        uow.commit()
    router.handle(incoming("join", code, event_id="ev-3"))
    reply = router.handle(incoming("whoami", event_id="ev-4"))[0]
    assert "went wrong" in reply.text and "secret" not in reply.text and "Traceback" not in reply.text
