"""A platform retry (same event id) acts once, whatever the command's outcome."""
from datetime import timedelta

from sqlalchemy import func, select, update

from bot.messages import Incoming
from bot.services.core import identity
from db.base import utcnow
from db.models import InboundEvent, OutboxMessage


def incoming(command: str, args: str = "", event_id: str = "ev-1", user: str = "U9", workspace: str = "T1"
             ) -> Incoming:
    return Incoming(platform="slack", workspace=workspace, chat_id="D1", user_id=user, command=command, args=args,
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


def test_one_event_id_at_two_bots_is_two_events(router, demo_org):
    """Telegram numbers updates per bot: bot 1's update 7 and bot 2's update 7 both act."""
    for handle, user, name in (("sam", "U1", "Sam Carter"), ("li", "U2", "李雷 Li Lei")):
        with demo_org.uow() as uow:
            code = identity.create_invitation(uow, identity.find_user(uow, handle).id, utcnow(), 14)
            uow.commit()
        [welcome] = router.handle(incoming("join", code, event_id="7", user=user, workspace=f"bot-{user}"))
        assert name in welcome.title
    with demo_org.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(InboundEvent)) == 2


def test_an_event_id_older_than_the_retry_window_acts_again(router, demo_org):
    """Telegram starts update ids afresh after a quiet week: an old id must not swallow a new update."""
    first = router.handle(incoming("whoami", event_id="42"))
    assert router.handle(incoming("whoami", event_id="42")) == []  # a retry within the window
    with demo_org.uow() as uow:
        uow.session.execute(update(InboundEvent).values(received_at=utcnow() - identity.RETRY_WINDOW
                                                        - timedelta(minutes=1)))
        uow.commit()
    assert router.handle(incoming("whoami", event_id="42")) == first
    assert router.handle(incoming("whoami", event_id="42")) == []


def test_a_retry_while_the_answer_is_on_its_way_gets_nothing_then_the_answer_if_it_failed(router, demo_org):
    event = incoming("whoami", event_id="ev-5")
    first = router.handle(event)
    assert router.handle(event) == []  # the first delivery is still sending it
    router.sent(event, delivered=False)  # ... and could not
    assert router.handle(event) == first  # the next copy gets the answer
    router.sent(event, delivered=True)
    assert router.handle(event) == []
    with demo_org.uow() as uow:
        assert uow.session.scalar(select(InboundEvent.answered_at)) is not None


def test_a_kept_answer_keeps_everything_a_front_end_shows():
    from bot.messages import Button, Reply

    reply = Reply(text="t", title="T", fields=[("a", "b")], buttons=[Button("x", "claim 1", "primary")],
                  ephemeral=True, request_location=True, checkin_url="https://c", file_name="f.csv",
                  file_bytes=b"a,b\n", locale="zh")
    assert Reply.from_json(reply.to_json(file_limit=100)) == reply
    dropped = reply.to_json(file_limit=3)
    assert dropped["file_dropped"] == "f.csv" and Reply.from_json(dropped).file_bytes is None
    assert Reply.from_json(Reply(text="plain").to_json()) == Reply(text="plain")
