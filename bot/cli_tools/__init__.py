"""Extra `fieldcrm` subcommands, one module per job (import, export, doctor).

A module defines `register(subparsers)`: it adds its parser and calls `parser.set_defaults(tool=run)`
where `run(settings, db, args) -> int` does the work; `upgrade_first=False` skips the migration that
every other command runs first.
"""
import argparse

from bot.cli_tools import doctor, export, import_customers, import_leads

TOOLS = (export, import_leads, import_customers, doctor)


def register_all(subparsers: argparse._SubParsersAction) -> None:
    for tool in TOOLS:
        tool.register(subparsers)
