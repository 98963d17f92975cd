"""Extra `fieldcrm` subcommands, one module per capability (import, export...).

A module defines `register(subparsers)`: it adds its parser and calls
`parser.set_defaults(tool=run)` where `run(settings, db, args) -> int` does the work.
"""
import argparse
import importlib
import pkgutil


def register_all(subparsers: argparse._SubParsersAction) -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}").register(subparsers)
