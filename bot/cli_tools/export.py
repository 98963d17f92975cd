"""`fieldcrm export visits|leads|customers|deals|audit --since --until --unit --out FILE.csv|.xlsx`.

For BI and payroll: the whole company (or one unit's subtree), streamed to the file.
"""
import argparse
import sys
from datetime import date
from pathlib import Path

from bot.config import Settings
from bot.errors import UserError
from bot.i18n import render_text
from bot.services.manager import export
from db.session import Database


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export records to CSV or XLSX (BI, payroll)")
    parser.add_argument("kind", choices=export.KINDS)
    parser.add_argument("--since", type=_day, help="first day included (UTC), YYYY-MM-DD")
    parser.add_argument("--until", type=_day, help="last day included (UTC), YYYY-MM-DD")
    parser.add_argument("--unit", help="only this unit and its subtree")
    parser.add_argument("--out", type=Path, required=True, help="FILE.csv or FILE.xlsx")
    parser.set_defaults(tool=run)


def run(settings: Settings, db: Database, args: argparse.Namespace) -> int:
    fmt = args.out.suffix.lower().lstrip(".")
    locale = settings.DEFAULT_LOCALE
    if fmt not in export.FORMATS:
        print(render_text("cli/export_bad_file", locale, path=args.out), file=sys.stderr)
        return 2
    with db.uow() as uow:
        try:
            data = export.table(uow, args.kind, args.since, args.until, args.unit)
            partial = args.out.with_name(args.out.name + ".part")
            if fmt == "csv":
                with partial.open("w", encoding="utf-8-sig", newline="") as out:
                    rows = export.write_csv(data, out)
            else:
                with partial.open("wb") as out:
                    rows = export.write_xlsx(data, out)
        except UserError as error:
            print("fieldcrm: " + render_text(f"errors/{error.template}", locale, **error.params), file=sys.stderr)
            return 2
        except OSError as error:
            print(render_text("cli/export_bad_file", locale, path=f"{args.out} ({error.strerror})"), file=sys.stderr)
            return 2
    partial.replace(args.out)  # a half-written file never carries the final name
    print(render_text("cli/export_done", locale, kind=args.kind, rows=rows, path=args.out))
    return 0
