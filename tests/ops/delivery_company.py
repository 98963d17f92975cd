"""The company of tests/ops/test_delivery_at_scale.py, set up as an admin does it (`fieldcrm org
load`, `fieldcrm import leads`) and worked through nginx on Telegram, as its people do.

Units, each with its own Telegram groups (boards off, wins announced at once):
- Win Team: 100 groups, one rep (`WIN`) who wins a deal announced in all of them;
- Join Team: one group, 40 reps who join at once (each join is welcomed in the group);
- Kill Team: 60 groups (two seconds of Telegram's 30 a second), one rep (`KILL`) who wins a deal
  per round while processes are killed;
- Refuse Team: 40 groups, one rep (`REFUSE`), the first group refusing every post.
"""
import asyncio
import re
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.fakes.telegram_api import text_update
from tests.ops.cluster import TG_WORKSPACE, Cluster, Platforms

WIN_GROUPS = [-1001000 - n for n in range(100)]
JOIN_GROUP = -1002000
KILL_GROUPS = [-1003000 - n for n in range(60)]
REFUSE_GROUPS = [-1004000 - n for n in range(40)]
JOINERS = [f"joiner{n}" for n in range(40)]
WIN, KILL, REFUSE = "winner", "killer", "refusee"
WINNERS = {WIN: ("Win Team", WIN_GROUPS), KILL: ("Kill Team", KILL_GROUPS), REFUSE: ("Refuse Team", REFUSE_GROUPS)}
TELEGRAM_ID = {WIN: 6001, KILL: 6002, REFUSE: 6003, **{h: 8000 + n for n, h in enumerate(JOINERS)}}
CUSTOMER = {WIN: "Aurora Foods", KILL: "Boreal Steel", REFUSE: "Cobalt Tea"}
QUIET_CHANNEL = {"boards": {"periods": [], "merge_seconds": 0}}


def org_file(with_groups: bool) -> dict:
    units = ["Win Team", "Join Team", "Kill Team", "Refuse Team"]
    users = [{"handle": h, "name": f"Rep {h}", "unit": unit, "role": "rep", "locale": "en"}
             for h, (unit, _groups) in WINNERS.items()]
    users += [{"handle": h, "name": f"Rep {h}", "unit": "Join Team", "role": "rep", "locale": "en"} for h in JOINERS]
    groups = [(unit, chat) for unit, chats in WINNERS.values() for chat in chats] + [("Join Team", JOIN_GROUP)]
    return {
        "units": [{"name": "Scale Trading", "children": [{"name": name} for name in units]}],
        "users": users,
        "channels": [{"platform": "telegram", "workspace": TG_WORKSPACE, "chat": str(chat), "unit": unit,
                      "include_subunits": False, **QUIET_CHANNEL} for unit, chat in groups] if with_groups else [],
        "pools": [{"name": "Scale pool", "members": {"units": [WINNERS[h][0] for h in WINNERS], "users": []}}],
    }


def load_org(cluster: Cluster, folder: Path, with_groups: bool) -> dict[str, str]:
    """`fieldcrm org load`; the invitation code of each person it created."""
    org = folder / "org.yaml"
    org.write_text(yaml.safe_dump(org_file(with_groups), allow_unicode=True))
    return dict(re.findall(r"invitation for (\w+): (\S+)", cluster.fieldcrm("org", "load", str(org))))


async def set_up(cluster: Cluster, telegram: "Telegram", folder: Path) -> dict[str, str]:
    """The org without its groups, one lead per winner in the pool, the winners joined with their
    customers (no welcome goes to a group), then the groups; each person's invitation code."""
    codes = load_org(cluster, folder, with_groups=False)
    assert set(codes) == {*WINNERS, *JOINERS}
    leads = folder / "leads.csv"
    leads.write_text("company,contact,phone\n" + "".join(f"{CUSTOMER[h]},Boss {h},\n" for h in WINNERS))
    cluster.fieldcrm("import", "leads", str(leads), "--pool", "Scale pool")
    await asyncio.gather(*(telegram.join_with_customer(handle, codes[handle]) for handle in WINNERS))
    load_org(cluster, folder, with_groups=True)
    return codes


@dataclass
class Telegram:
    """People typing in their private chats with the bot, through nginx."""

    cluster: Cluster
    platforms: Platforms

    def answers(self, chat: int) -> list[str]:
        return self.cluster.telegram.log.texts(chat)

    async def send(self, chat: int, text: str) -> int:
        """One message typed in his private chat; the webhook's status."""
        return await self.platforms.update(text_update(text, chat_id=chat, user_id=chat, language_code="en"))

    async def say(self, handle_or_chat: str | int, text: str, timeout: float = 10.0) -> str:
        """Type and wait for the answer; the answer."""
        chat = TELEGRAM_ID[handle_or_chat] if isinstance(handle_or_chat, str) else handle_or_chat
        before = len(self.answers(chat))
        assert await self.send(chat, text) == 200
        deadline = time.monotonic() + timeout
        while len(self.answers(chat)) == before:
            assert time.monotonic() < deadline, f"no answer to {text!r} in chat {chat}"
            await asyncio.sleep(0.05)
        return "\n".join(self.answers(chat)[before:])

    async def join(self, handle: str, code: str) -> None:
        assert "Rep" in await self.say(handle, f"/join {code}")

    async def join_with_customer(self, handle: str, code: str) -> None:
        """A winner joins, claims his lead from the pool and makes it a customer."""
        await self.join(handle, code)
        pool = await self.say(handle, "/pool")
        await asyncio.sleep(1.1)  # one answer a second in a private chat
        (lead,) = re.findall(rf"#(\d+)\D[^\n]*{CUSTOMER[handle]}", pool)
        await self.say(handle, f"/claim {lead}")
        await asyncio.sleep(1.1)  # one answer a second in a private chat
        assert CUSTOMER[handle] in await self.say(handle, f"/convert {lead} --contact Boss")

    async def new_deal(self, handle: str, amount: int) -> str:
        """A deal for his customer; its number."""
        created = await self.say(handle, f"/newdeal {CUSTOMER[handle].split()[0]} {amount} Order {amount}")
        (deal,) = re.findall(r"/win (\d+)", created)
        return deal
