"""`fieldcrm import customers FILE.csv [--owner HANDLE] [--strict]`: a company's existing customers,
with their owners, places, tiers and contacts (bot.services.customers.imports)."""
import argparse
from pathlib import Path

from bot.cli_tools.import_files import import_kinds, run_import
from bot.config import Settings
from bot.services.customers import imports
from db.base import utcnow
from db.session import Database


def register(subparsers: argparse._SubParsersAction) -> None:
    customers = import_kinds(subparsers).add_parser(
        "customers", help="existing customers from a CSV file (UTF-8, GB18030, Big5 or Windows-1252)")
    customers.add_argument("file", type=Path)
    customers.add_argument("--owner", help="the handle of the owner of every row without one in the file")
    customers.add_argument("--strict", action="store_true",
                           help="import nothing when any row is refused (default: the good rows go in)")
    customers.set_defaults(tool=run)


def run(settings: Settings, db: Database, args: argparse.Namespace) -> int:
    return run_import(settings, db, args.file, "customers_report", lambda uow, data, progress: imports.import_customers(
        uow, data, args.file.name, utcnow(), owner=args.owner, strict=args.strict, progress=progress,
        default_phone_region=settings.DEFAULT_PHONE_REGION))
