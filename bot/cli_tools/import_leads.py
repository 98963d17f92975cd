"""`fieldcrm import leads FILE.csv --pool NAME`: leads from a spreadsheet into a public pool."""
import argparse
import sys
from pathlib import Path

from bot.config import Settings
from bot.i18n import render_text
from bot.services.leads import imports
from db.base import utcnow
from db.session import Database

PROGRESS_FROM_ROWS = 2000
REPORT_LIMIT = 50


def register(subparsers: argparse._SubParsersAction) -> None:
    # Another capability may also add `import <kind>`: share the `import` command if it exists.
    parent = subparsers._name_parser_map.get("import")
    if parent is None:
        parent = subparsers.add_parser("import", help="import records from files")
        kinds = parent.add_subparsers(dest="import_kind", required=True)
    else:
        kinds = next(a for a in parent._actions if isinstance(a, argparse._SubParsersAction))
    leads = kinds.add_parser("leads", help="leads from a CSV file (UTF-8, GB18030, Big5 or Windows-1252) into a pool")
    leads.add_argument("file", type=Path)
    leads.add_argument("--pool", help="the pool's name (may be left out when there is only one pool)")
    leads.set_defaults(tool=run)


def progress_bar(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr, flush=True)
    if done >= total:
        print(file=sys.stderr)


def run(settings: Settings, db: Database, args: argparse.Namespace) -> int:
    locale = settings.DEFAULT_LOCALE
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(render_text("import/unreadable", locale, file=args.file, reason=reason), file=sys.stderr)
        return 2
    big = data.count(b"\n") >= PROGRESS_FROM_ROWS
    try:
        with db.uow() as uow:
            report = imports.import_leads(uow, data, args.file.name, args.pool, utcnow(),
                                          progress=progress_bar if big else None,
                                          default_phone_region=settings.DEFAULT_PHONE_REGION)
            uow.commit()
    except imports.ImportProblem as problem:
        params = {"file": args.file.name, **problem.params}
        print(render_text(f"import/{problem.template}", locale, **params), file=sys.stderr)
        return 2
    reasons = _reasons(locale)
    print(render_text("import/report", locale, report=report, reasons=reasons, limit=REPORT_LIMIT))
    return 0


def _reasons(locale: str) -> dict[str, str]:
    from bot.i18n import environment

    return environment().get_template(f"{locale}/import/reasons.j2").module.reasons
