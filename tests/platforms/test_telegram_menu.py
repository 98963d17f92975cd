"""The Telegram command menu: everyone's menu holds no manager command; a manager's private chat
gets his own (BotCommandScopeChat) at start and when he links or changes language."""
from bot.adapters.telegram.front_end import TelegramFrontEnd
from bot.bootstrap import send_budget
from tests.platforms.telegram_harness import link_telegram
from tests.platforms.test_telegram import LI, TOKEN, api, link, telegram_settings, webhook_bot  # noqa: F401

MEI = 888
MANAGER_ONLY = {"review", "team", "report", "handover", "undo_handover", "audit", "export"}


def menus(fake) -> list[dict]:
    return fake.called("setMyCommands")


def names(call: dict) -> set[str]:
    return {c["command"] for c in call["commands"]}


def scoped(fake) -> list[dict]:
    return [c for c in menus(fake) if c.get("scope", {}).get("type") == "chat"]


def link_directly(db, handle: str, chat_id: int) -> None:
    link_telegram(db, handle, chat_id)


async def test_at_start_known_managers_get_their_menu_and_nobody_else(db, demo_org, router, api):  # noqa: F811
    link_directly(db, "mei", MEI)
    link_directly(db, "li", LI)
    front_end = TelegramFrontEnd(telegram_settings(db, api, webhook=True), router, send_budget(router.db))
    await front_end.start()
    try:
        everyone = [c for c in menus(api) if "scope" not in c]
        assert {c.get("language_code", "") for c in everyone} == {"", "en", "zh"}
        assert all(not names(c) & MANAGER_ONLY for c in everyone)
        [mine] = scoped(api)
        assert mine["scope"] == {"type": "chat", "chat_id": MEI} and names(mine) >= MANAGER_ONLY
        assert any("审核" in c["description"] for c in mine["commands"])  # Mei speaks Chinese
    finally:
        await front_end.stop()


async def test_a_manager_who_links_gets_his_menu_a_rep_does_not(webhook_bot, db):  # noqa: F811
    assert scoped(webhook_bot.api) == []
    await link(webhook_bot, db, "li", LI)
    assert scoped(webhook_bot.api) == []
    await link(webhook_bot, db, "mei", MEI)
    [mine] = scoped(webhook_bot.api)
    assert mine["scope"] == {"type": "chat", "chat_id": MEI} and names(mine) >= MANAGER_ONLY
    await webhook_bot.say("/lang en", chat_id=MEI)
    latest = scoped(webhook_bot.api)[-1]
    assert latest["scope"]["chat_id"] == MEI and any("Review" in c["description"] for c in latest["commands"])
