"""The App Home and the modals on the bolt app: app_home_opened, the Home's buttons, the global and
message shortcuts, and the modals' submissions.

A shortcut or a button opening a modal is acked at once and views.open follows (its trigger is good
for 3 seconds). A submission is the one request that is not acked first: its form runs through the
router (identity, permission, rate limit, audit: the same path as the typed command) before the
ack, so a refusal is shown on the field at fault (`response_action: errors`) and a success closes
the modal; its answer then goes to the person's DM with the bot. Slack waits 3 seconds for that ack:
when the router has not answered within ACK_WITHIN_S, the modal is closed and the answer, refusal
included, goes to the DM when it comes.
"""
import asyncio
import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_bolt.app.async_app import AsyncApp

from bot.adapters.slack.blocks import unescape
from bot.adapters.slack.home import HOME_COMMAND, OPEN_MODAL
from bot.adapters.slack.home_publisher import HomePublisher
from bot.adapters.slack.inbound import action_incoming
from bot.adapters.slack.modals import (
    FORM_CALLBACK,
    FORMS,
    SHORTCUTS,
    Form,
    modal_view,
    result_view,
    step_form,
    values,
)
from bot.adapters.slack.outbound import SlackAnswerer, Target
from bot.adapters.slack.words import COMMAND_PREFIX, LOCATION_ASK, PLATFORM
from bot.messages import Incoming, Reply
from bot.router import Router
from bot.services.home import choices
from db.base import utcnow

log = logging.getLogger(__name__)

ACK_WITHIN_S = 2.5  # Slack shows an error when a submission is not acked within 3 seconds
MAX_ERROR = 300
MAX_PREFILL = 2000


@dataclass
class Outcome:
    replies: list[Reply]  # what goes to the person's DM
    errors: dict[str, str] | None = None  # block id -> refusal: the modal stays open, nothing was done
    partial: bool = False  # a later step was refused after an earlier one was done


def _text(data: object, *path: str) -> str:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data if isinstance(data, str) else ""


def _who(body: dict) -> tuple[str, str]:
    """(team, user) of an interaction payload."""
    return _text(body, "team", "id") or _text(body, "user", "team_id"), _text(body, "user", "id")


def refusal_text(reply: Reply) -> str:
    return " ".join(part for part in (reply.title, reply.text) if part)[:MAX_ERROR]


class Interactions:
    def __init__(self, app: AsyncApp, router: Router, publisher: HomePublisher, answerer: SlackAnswerer,
                 spawn: Callable[[Awaitable[None]], None], dm_channel: Callable[[str, str], Awaitable[str | None]],
                 answer: Callable[[Incoming, Target], Awaitable[None]], default_locale: str):
        self.router, self.publisher, self.answerer = router, publisher, answerer
        self.client = app.client
        self.spawn, self.dm_channel, self.answer = spawn, dm_channel, answer
        self.default_locale = default_locale
        self.ack_within_s = ACK_WITHIN_S
        app.event("app_home_opened")(self._on_home_opened)
        app.shortcut(re.compile("^(" + "|".join(SHORTCUTS) + ")$"))(self._on_shortcut)
        app.action(re.compile("^" + re.escape(OPEN_MODAL)))(self._on_open_button)
        app.action(re.compile("^" + re.escape(HOME_COMMAND)))(self._on_home_button)
        app.view(re.compile("^" + re.escape(FORM_CALLBACK) + "[a-z]+$"))(self._on_submit)

    # -- the Home

    async def _on_home_opened(self, ack: Callable, body: dict, event: dict) -> None:
        await ack()
        team, user = _text(body, "team_id"), _text(event, "user")
        if _text(event, "tab") == "home" and team and user:
            self.spawn(self.publisher.opened(team, user, isinstance(event.get("view"), dict)))

    async def _on_home_button(self, ack: Callable, body: dict, action: dict) -> None:
        """A command button on the Home: answered in his DM with the bot (the Home has no channel)."""
        await ack()
        self.spawn(self._home_command(body, action))

    async def _home_command(self, body: dict, action: dict) -> None:
        incoming = action_incoming(body, action)
        dm = await self.dm_channel(incoming.workspace, incoming.user_id)
        if dm is None:
            return
        incoming = dataclasses.replace(incoming, chat_id=dm, is_private=True)
        await self.answer(incoming, Target(channel=dm, user=incoming.user_id, private=True, team=incoming.workspace))

    # -- opening a modal

    async def _on_shortcut(self, ack: Callable, body: dict) -> None:
        await ack()
        kind = SHORTCUTS.get(_text(body, "callback_id"), "")
        initial = {"note": unescape(_text(body, "message", "text"))[:MAX_PREFILL]} if kind == "follow" else {}
        self.spawn(self._open(body, kind, initial))

    async def _on_open_button(self, ack: Callable, body: dict, action: dict) -> None:
        await ack()
        kind = _text(action, "action_id").removeprefix(OPEN_MODAL)
        value = _text(action, "value")
        self.spawn(self._open(body, kind, {"lead": value} if kind == "follow" and value else {}))

    async def _open(self, body: dict, kind: str, initial: dict[str, str]) -> None:
        team, user = _who(body)
        trigger = _text(body, "trigger_id")
        if kind not in FORMS or not trigger:
            return
        try:
            start = await asyncio.to_thread(self._form_start, team, user)
            view = modal_view(kind, start.locale or self.default_locale, initial,
                              picks={"lead": start.leads, "customer": start.customers, "deal": start.deals})
            await self.client.views_open(trigger_id=trigger, view=view)
        except Exception as exc:  # an expired trigger, Slack down: he can press again
            log.warning("slack: modal %s for %s not opened: %r", kind, user, exc)

    def _form_start(self, team: str, user: str) -> choices.FormStart:
        with self.router.db.uow() as uow:
            return choices.form_start(uow, PLATFORM, team, user)

    # -- a submission: the router before the ack

    async def _on_submit(self, ack: Callable, body: dict, view: dict) -> None:
        form = FORMS.get(_text(view, "callback_id").removeprefix(FORM_CALLBACK))
        team, user = _who(body)
        if form is None or not user:
            await ack()
            return
        base = Incoming(platform=PLATFORM, workspace=team, chat_id="", user_id=user, sent_at=utcnow(),
                        is_private=True, display_name=_text(body, "user", "username") or _text(body, "user", "name"),
                        command_prefix=COMMAND_PREFIX, location_ask=LOCATION_ASK)
        task = asyncio.ensure_future(self._run(form, values(view), base))
        try:
            async with asyncio.timeout(self.ack_within_s):  # not wait_for: see bot/delivery.py
                outcome = await asyncio.shield(task)
        except TimeoutError:
            await ack()
            self.spawn(self._deliver_late(team, user, task))
            return
        if outcome.errors:
            await ack(response_action="errors", errors=outcome.errors)
            return
        if outcome.partial:
            locale = next((r.locale for r in outcome.replies if r.locale), self.default_locale)
            await ack(response_action="update", view=result_view(form.kind, locale, [refusal_text(r) for r in
                                                                                   outcome.replies]))
        else:
            await ack()
        self.spawn(self._deliver(team, user, outcome.replies))

    async def _run(self, form: Form, filled: dict[str, str], base: Incoming) -> Outcome:
        done: list[Reply] = []
        for step in form.steps:
            fields = step_form(step, filled)
            if fields is None:
                continue
            replies = await self.router.handle_async(dataclasses.replace(base, command=step.command, form=fields))
            refused = next((r for r in replies if r.refused), None)
            if refused is not None and not done:
                return Outcome(replies, errors={form.block_of(step, refused.refused_field): refusal_text(refused)})
            done += replies
            if refused is not None:
                return Outcome(done, partial=True)
        return Outcome(done)

    async def _deliver_late(self, team: str, user: str, task: asyncio.Task) -> None:
        """The modal closed before the router answered: every answer goes to the DM, a refusal too."""
        outcome = await task
        await self._deliver(team, user, outcome.replies)

    async def _deliver(self, team: str, user: str, replies: list[Reply]) -> None:
        """The answers of a submitted form, in his DM with the bot; his Home is marked changed."""
        self.publisher.mark(team, user)
        dm = await self.dm_channel(team, user)
        if dm is None or not replies:
            return
        try:
            await self.answerer.answer(Target(channel=dm, user=user, private=True, team=team), replies)
        except Exception:  # logged, never shown
            log.exception("slack: the answer to %s's form could not be posted", user)

