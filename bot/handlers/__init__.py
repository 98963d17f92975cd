"""Command handlers. Every module in this package registers its commands on import."""
import importlib
import pkgutil


def load_all() -> None:
    for module in pkgutil.walk_packages(__path__, prefix=f"{__name__}."):
        if module.name.rpartition(".")[2] not in ("registry", "args"):
            importlib.import_module(module.name)
