"""Scheduled jobs. Every module in this package registers its jobs with @scheduled on import."""
import importlib
import pkgutil


def load_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
