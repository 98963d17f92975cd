"""Command handlers. Every module in this package registers its commands on import."""
import importlib
import pkgutil


def load_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name not in ("registry", "args"):
            importlib.import_module(f"{__name__}.{module.name}")
