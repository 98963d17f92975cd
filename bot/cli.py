"""`fieldcrm`: run the bot, the console, migrations, the demo org, org files (load, dump), invitations and
unlinking."""
import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot.bootstrap import open_database
from bot.cli_tools import register_all as register_tools
from bot.config import Settings, SettingsError, load_settings
from bot.errors import UserError
from bot.i18n import render_text
from bot.logs import configure_logging
from bot.sender_process import leave_with_parent
from bot.services.core import demo, identity, org_file
from bot.startup import StartupError, Unreachable, database_reachable, wait_for_database
from db.base import utcnow
from db.migrate import upgrade
from db.session import Database


class Refused(Exception):
    """What the admin asked for cannot be done: one rendered line on stderr, exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fieldcrm", description="Field-sales CRM chat bot")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="every configured front end, scheduler and HTTP endpoints; console when none")
    run.add_argument("--as", dest="as_user", help="console user when no platform is configured")
    send = sub.add_parser("send", help="the outbox sender alone (for OUTBOX_SENDER=none elsewhere)")
    send.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # started by `run`
    console = sub.add_parser("console", help="chat in the terminal")
    console.add_argument("--as", dest="as_user", default=None, help="who you are (a user handle)")
    sub.add_parser("demo", help="load the demo org (safe to run twice)")
    db = sub.add_parser("db", help="database")
    db.add_argument("action", choices=["upgrade"])
    org_cmd = sub.add_parser("org", help="the org file: units, users, team channels, pools")
    org_actions = org_cmd.add_subparsers(dest="action", required=True)
    org_actions.add_parser("load", help="create or update the org from a YAML file").add_argument("file", type=Path)
    org_actions.add_parser("dump", help="write the org as a YAML file (stdout when no file is named)").add_argument(
        "file", type=Path, nargs="?")
    invite = sub.add_parser("invite", help="a new invitation code for a user")
    invite.add_argument("user")
    unlink = sub.add_parser("unlink", help="end a user's link to his account on a platform (he can join again)")
    unlink.add_argument("user")
    unlink.add_argument("platform", choices=list(identity.PLATFORMS))
    register_tools(sub)
    return parser


def _first_admin(db: Database) -> str:
    from sqlalchemy import select

    from db.models import Role, User

    with db.uow() as uow:
        handle = uow.session.scalar(
            select(User.handle).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id).limit(1)
        )
    return handle or "admin"


def _load_demo(settings: Settings, db: Database, only_if_empty: bool) -> None:
    """Load the demo org (safe twice); with only_if_empty, only into a database without users, so
    `make run` on a fresh embedded database can chat at once."""
    with db.uow() as uow:
        if only_if_empty and demo.has_users(uow):
            return
        demo.load_demo(uow, utcnow())
        uow.commit()
    print(render_text("cli/demo_loaded", settings.DEFAULT_LOCALE), file=sys.stderr)


def _load_org(settings: Settings, db: Database, path: Path) -> None:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise Refused(
            render_text("cli/org_unreadable", settings.DEFAULT_LOCALE, path=path, reason=str(exc)[:200])
        ) from None
    now = utcnow()
    with db.uow() as uow:
        result = org_file.load_org_text(uow, text, str(path), settings.DEFAULT_TIMEZONE, settings.DEFAULT_LOCALE,
                                        now)
        codes = {h: identity.create_invitation(uow, _user_id(uow, h), now, settings.INVITATION_DAYS)
                 for h in result.users_created}
        uow.commit()
    print(render_text("cli/org_loaded", settings.DEFAULT_LOCALE, result=result, codes=codes))


def _dump_org(settings: Settings, db: Database, path: Path | None) -> None:
    with db.uow() as uow:
        text = org_file.dump_org(uow)
    if path is None:
        sys.stdout.write(text)
        return
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise Refused(render_text("cli/org_unwritable", settings.DEFAULT_LOCALE, path=path,
                                  reason=exc.strerror or str(exc))) from None
    print(render_text("cli/org_dumped", settings.DEFAULT_LOCALE, path=path), file=sys.stderr)


def _user_id(uow, handle: str) -> int:
    user = identity.find_user(uow, handle)
    assert user is not None
    return user.id


def _invite(settings: Settings, db: Database, handle: str) -> None:
    with db.uow() as uow:
        user = identity.find_user(uow, handle)
        if user is None or not user.active:
            raise Refused(render_text("cli/unknown_user", settings.DEFAULT_LOCALE, handle=handle))
        code = identity.create_invitation(uow, user.id, utcnow(), settings.INVITATION_DAYS)
        uow.commit()
    print(render_text("cli/invitation", settings.DEFAULT_LOCALE, handle=user.handle, code=code,
                      days=settings.INVITATION_DAYS))


def _unlink(settings: Settings, db: Database, handle: str, platform: str) -> None:
    locale = settings.DEFAULT_LOCALE
    with db.uow() as uow:
        user = identity.find_user(uow, handle)
        if user is None:
            raise Refused(render_text("cli/unknown_user", locale, handle=handle))
        ended = identity.unlink(uow, user.id, platform, utcnow())
        if not ended:
            raise Refused(render_text("cli/no_such_link", locale, handle=user.handle, platform=platform))
        accounts = [link.display_name or link.platform_user_id for link in ended]
        uow.commit()
    print(render_text("cli/unlinked", locale, handle=user.handle, platform=platform, accounts=accounts))


def _send(settings: Settings) -> None:
    from bot.app import send_only

    if not settings.on_postgresql:
        raise Refused(render_text("cli/send_needs_postgresql", settings.DEFAULT_LOCALE))
    if not settings.platform_configured:
        raise Refused(render_text("cli/send_needs_platform", settings.DEFAULT_LOCALE))
    asyncio.run(send_only(settings))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"fieldcrm: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    if args.command == "send" and args.child:
        leave_with_parent(settings.SENDER_NICE)  # before anything that may wait
    console_only = args.command == "console" or not settings.platform_configured
    if args.command in ("run", "console") and console_only:
        logging.getLogger().setLevel(logging.ERROR)  # logs would interleave with the chat
    try:
        if args.command in ("run", "send"):  # a service: wait for the database (one line per try)
            wait_for_database(settings.DATABASE_URL, timeouts=settings.database_timeouts())
        elif getattr(args, "upgrade_first", True):
            database_reachable(settings.DATABASE_URL, settings.database_timeouts())
    except Unreachable as exc:
        print("fieldcrm: " + render_text("cli/database_unreachable", settings.DEFAULT_LOCALE, reason=str(exc)),
              file=sys.stderr)
        return 1
    if getattr(args, "upgrade_first", True):
        upgrade(settings.DATABASE_URL)
    db = open_database(settings.DATABASE_URL, timeouts=settings.database_timeouts())
    try:
        if getattr(args, "tool", None):
            return args.tool(settings, db, args)
        if args.command == "db":
            print(render_text("cli/db_upgraded", settings.DEFAULT_LOCALE))
        elif args.command == "demo":
            _load_demo(settings, db, only_if_empty=False)
        elif args.command == "org" and args.action == "dump":
            _dump_org(settings, db, args.file)
        elif args.command == "org":
            _load_org(settings, db, args.file)
        elif args.command == "invite":
            _invite(settings, db, args.user)
        elif args.command == "unlink":
            _unlink(settings, db, args.user, args.platform)
        elif args.command == "send":
            _send(settings)
        else:
            from bot.app import serve

            if console_only:
                _load_demo(settings, db, only_if_empty=True)
            user = args.as_user or (_first_admin(db) if console_only else None)
            if args.command == "console":
                settings = settings.model_copy(update={"SLACK_BOT_TOKEN": None, "TELEGRAM_BOT_TOKEN": None})
            asyncio.run(serve(settings, console_user=user))
    except UserError as exc:
        print("fieldcrm: " + render_text(f"errors/{exc.template}", settings.DEFAULT_LOCALE, **exc.params),
              file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"fieldcrm: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:  # a platform refused the bot's token: retrying cannot help
        logging.getLogger(__name__).critical("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
