"""The terminal front end: one line in, plain text out. `/as USER` switches who you are, `/in CHAT`
where you type (a team channel such as #sales; `/in` alone: back to your private chat with the bot).
`/photo PATH` sends a picture file from this machine, as a chat sends a photo "as a file"."""
import asyncio
import sys
from collections.abc import Callable
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import TextIO

from bot.messages import TYPED_SOURCE, Attachment, Incoming, Location, Reply
from bot.router import Router, command_line
from db.base import utcnow

PLATFORM = "console"
COMMAND_PREFIX = "/"
WORKSPACE = "local"


FILES_DIR = Path("fieldcrm-files")


def save_file(reply: Reply) -> Path | None:
    """Attached files (charts, exports) land in ./fieldcrm-files; the chat shows the path."""
    if reply.file_bytes is None or not reply.file_name:
        return None
    FILES_DIR.mkdir(exist_ok=True)
    path = FILES_DIR / Path(reply.file_name).name
    path.write_bytes(reply.file_bytes)
    return path


def format_reply(reply: Reply, saved: Path | None = None) -> str:
    lines = []
    if reply.title:
        lines.append(f"== {reply.title} ==")
    lines.extend(f"{label}: {value}" for label, value in reply.fields)
    if reply.text:
        lines.append(reply.text)
    for button in reply.buttons:
        lines.append(f"  [{button.label}] {button.url or '/' + button.payload}")
    if saved is not None:
        lines.append(f"  [{saved.name}] {saved}")
    return "\n".join(lines)


class ConsoleSender:
    """Delivers outbox posts for console channels by printing them."""

    platform = PLATFORM
    command_prefix = COMMAND_PREFIX

    def __init__(self, out: TextIO):
        self.out = out

    async def send(self, workspace: str, chat_id: str, reply: Reply) -> None:
        body = format_reply(reply).replace("\n", "\n    ")
        print(f"[{chat_id}] {body}", file=self.out, flush=True)


class ConsoleAdapter:
    def __init__(self, router: Router, user: str, out: TextIO = sys.stdout, clock: Callable[[], datetime] = utcnow):
        self.router = router
        self.user = user
        self.out = out
        self.clock = clock
        self._ids = count(1)
        self.chat: str | None = None  # a group chat typed in (/in #sales); None: the private chat

    def to_incoming(self, line: str) -> Incoming | None:
        """Translate one typed line; None for console-only commands handled here."""
        name, args = command_line(line)
        if not name:
            return None
        base = dict(
            platform=PLATFORM, command_prefix=COMMAND_PREFIX, workspace=WORKSPACE, chat_id=self.chat or f"@{self.user}",
            user_id=self.user, sent_at=self.clock(), event_id=None, is_private=self.chat is None,
        )
        if name == "location":
            # Unparsable coordinates still reach the location command, which explains the format.
            location = _parse_location(args, self.clock())
            return Incoming(**base, command="" if location else "location", args=args, location=location)
        if name == "photo" and args.strip():
            attachment = _read_photo(Path(args.strip()), self.router.settings.PHOTO_MAX_BYTES)
            if attachment is not None:
                return Incoming(**base, attachment=attachment)
        return Incoming(**base, command=name, args=args)

    def handle_line(self, line: str) -> list[str]:
        name, args = command_line(line)
        if name == "as":
            self.user = args.strip().lstrip("@").lower() or self.user
            return [f"-- you are now @{self.user}"]
        if name == "in":
            self.chat = args.strip() or None
            return [f"-- typing in {self.chat or 'your private chat'}"]
        incoming = self.to_incoming(line)
        if incoming is None:
            return []
        # No event id here (a typed line is never delivered twice), so no answer to confirm as sent.
        return [format_reply(reply, save_file(reply)) for reply in self.router.handle(incoming)]

    async def run(self, stdin: TextIO = sys.stdin, after_each: Callable | None = None) -> None:
        loop = asyncio.get_running_loop()
        interactive = stdin.isatty()
        while True:
            if interactive:
                print(f"{self.user}> ", end="", file=self.out, flush=True)
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                break
            for text in await asyncio.to_thread(self.handle_line, line):
                print(text, file=self.out, flush=True)
            if after_each:
                await after_each()


def _read_photo(path: Path, max_bytes: int) -> Attachment | None:
    """The file at `path` (not read when bigger than `max_bytes`); None when there is no such file,
    left for the photo command to explain."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            return None
        content = path.read_bytes() if size <= max_bytes else None
    except OSError:
        return None
    return Attachment(content, size, "file", path.name)


def _parse_location(args: str, now: datetime) -> Location | None:
    """`/location LAT LON [ACCURACY]`; anything unparsable is left for the handler to refuse."""
    parts = args.replace(",", " ").split()
    if len(parts) not in (2, 3):
        return None
    try:
        lat, lon = float(parts[0]), float(parts[1])
        accuracy = float(parts[2]) if len(parts) == 3 else None
    except ValueError:
        return None
    return Location(latitude=lat, longitude=lon, accuracy_m=accuracy, source=TYPED_SOURCE, taken_at=now)
