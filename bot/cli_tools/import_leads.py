"""`fieldcrm import leads FILE.csv --pool NAME`: leads from a spreadsheet into a public pool."""
import argparse
from pathlib import Path

from bot.cli_tools.import_files import import_kinds, run_import
from bot.config import Settings
from bot.services.leads import imports
from db.base import utcnow
from db.session import Database


def register(subparsers: argparse._SubParsersAction) -> None:
    leads = import_kinds(subparsers).add_parser(
        "leads", help="leads from a CSV file (UTF-8, GB18030, Big5 or Windows-1252) into a pool")
    leads.add_argument("file", type=Path)
    leads.add_argument("--pool", help="the pool's name (may be left out when there is only one pool)")
    leads.set_defaults(tool=run)


def run(settings: Settings, db: Database, args: argparse.Namespace) -> int:
    return run_import(settings, db, args.file, "report", lambda uow, data, progress: imports.import_leads(
        uow, data, args.file.name, args.pool, utcnow(), progress=progress,
        default_phone_region=settings.DEFAULT_PHONE_REGION))
