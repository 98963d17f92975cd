"""What every `fieldcrm import KIND FILE` shares: the one `import` command, reading the file, the
progress bar of a big file, a refused file's one line and the report, in the admin's language
(DEFAULT_LOCALE). Each kind's service reads the file (bot.services.core.spreadsheet) and writes."""
import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from bot.config import Settings
from bot.i18n import environment, render_text
from bot.services.core.spreadsheet import ImportProblem
from db.session import Database, UnitOfWork

PROGRESS_FROM_ROWS = 2000
REPORT_LIMIT = 50
Progress = Callable[[int, int], None]


def import_kinds(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The subcommands of `import` (made by the first kind registered, shared by the others)."""
    parent = subparsers._name_parser_map.get("import")
    if parent is None:
        parent = subparsers.add_parser("import", help="import records from files")
        return parent.add_subparsers(dest="import_kind", required=True)
    return next(a for a in parent._actions if isinstance(a, argparse._SubParsersAction))


def progress_bar(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end="", file=sys.stderr, flush=True)
    if done >= total:
        print(file=sys.stderr)


def run_import(settings: Settings, db: Database, path: Path, report_template: str,
               work: Callable[[UnitOfWork, bytes, Progress | None], object]) -> int:
    """Read the file, let `work` import it in one transaction (committed when it returns), print
    the report (`import/<report_template>`). 2 with one line on stderr when the file is refused; 1
    when the report says nothing was written (`written` False: a strict import with a refused row)."""
    locale = settings.DEFAULT_LOCALE
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(render_text("import/unreadable", locale, file=path, reason=exc.strerror or str(exc)), file=sys.stderr)
        return 2
    big = data.count(b"\n") >= PROGRESS_FROM_ROWS
    try:
        with db.uow() as uow:
            report = work(uow, data, progress_bar if big else None)
            uow.commit()
    except ImportProblem as problem:
        params = {"file": path.name, **problem.params}
        print(render_text(f"import/{problem.template}", locale, **params), file=sys.stderr)
        return 2
    reasons = environment().get_template(f"{locale}/import/reasons.j2").module.reasons  # type: ignore[attr-defined]
    print(render_text(f"import/{report_template}", locale, report=report, reasons=reasons, limit=REPORT_LIMIT))
    return 0 if getattr(report, "written", True) else 1
