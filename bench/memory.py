"""Memory: resident size of one bot process idle, and after 10,000 users and 10,000 commands.

Each figure is measured in a fresh subprocess (so nothing of this process counts) and reported in
absolute MB against the target, with no floor: a ratio to another process would say nothing. A bare
Python interpreter's size is printed for scale.
"""
import json
import subprocess
import sys

from bench.common import Row, scratch_database

TARGET = "< 200 MB"

CHILD = r"""
import json, sys
def rss_mb(pid="self"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
mode, url, users, commands = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if mode == "bare":
    print(json.dumps({"rss": rss_mb()})); sys.exit()
import gc
from sqlalchemy import text
from bot.config import load_settings
from bot.bootstrap import build_router, jobs, open_database, send_budget
from bot.adapters.slack.front_end import SlackFrontEnd
from bot.adapters.telegram.front_end import TelegramFrontEnd
from bot.delivery import Dispatcher
from bot.scheduler import Scheduler
from bot.messages import Incoming
from bot.ratelimit import RateLimiter
settings = load_settings(env_file=None, DATABASE_URL=url, SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET="s",
                         TELEGRAM_BOT_TOKEN="123:ABC", SECRET_KEY="k")
db = open_database(url)
router = build_router(db, settings, limiter=RateLimiter())
fronts = [SlackFrontEnd(settings, router, send_budget(router.db)), TelegramFrontEnd(settings, router, send_budget(router.db))]
dispatcher = Dispatcher(db, {f.platform: f.sender for f in fronts}, metrics=router.metrics)
scheduler = Scheduler(db, settings, jobs())
with db.uow() as uow:
    uow.session.execute(text("SELECT 1"))
gc.collect()
idle = rss_mb()
if users:
    with db.engine.begin() as conn:
        unit = conn.execute(text("INSERT INTO org_units (name, path, active, created_at) "
                                 "VALUES ('Bench', '/', true, now()) RETURNING id")).scalar()
        conn.execute(text(
            "INSERT INTO users (handle, name, unit_id, role, data_scope, locale, timezone, active, created_at) "
            "SELECT 'u' || g, 'User ' || g, :unit, 'rep', 'self', CASE WHEN g % 2 = 0 THEN 'zh' ELSE 'en' END, "
            "'UTC', true, now() FROM generate_series(1, :n) g"), {"unit": unit, "n": users})
        conn.execute(text(
            "INSERT INTO platform_identities (platform, workspace, platform_user_id, dm_chat_id, user_id, linked_at) "
            "SELECT 'telegram', '123', 'tg' || u.handle, 'tg' || u.handle, u.id, now() FROM users u"))
    def incoming(n):
        user = f"tgu{n % users + 1}"
        return Incoming(platform="telegram", workspace="123", chat_id=user, user_id=user,
                        command="whoami" if n % 3 else "help", event_id=f"m{n}")
    for n in range(commands):
        router.handle(incoming(n))
    gc.collect()
print(json.dumps({"idle": idle, "rss": rss_mb()}))
"""


def measure(mode: str, url: str, users: int = 0, commands: int = 0) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, mode, url, str(users), str(commands)],
                         check=True, capture_output=True, text=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool) -> list[Row]:
    users = commands = 1_000 if quick else 10_000
    with scratch_database("memory") as url:
        bare = measure("bare", url)["rss"]
        loaded = measure("bot", url, users, commands)
    return [
        Row("memory", "RSS idle bot process", loaded["idle"], None, "MB", TARGET),
        Row("memory", f"RSS after {users:,} users, {commands:,} commands", loaded["rss"], None, "MB", TARGET),
        Row("memory", "bare Python interpreter, for scale", bare, None, "MB", "for scale"),
    ]
