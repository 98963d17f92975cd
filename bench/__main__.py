"""`python -m bench [--quick] [names...]`: run every benchmark module and print one table."""
import argparse
import importlib
import pkgutil
import platform
import sys
from pathlib import Path

from bench.common import Row, print_table

SKIP = {"common", "__main__"}


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--quick", action="store_true", help="small data, for a smoke run")
    parser.add_argument("names", nargs="*", help="only these modules")
    args = parser.parse_args()
    rows: list[Row] = []
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name in SKIP or (args.names and module.name not in args.names):
            continue
        print(f"== {module.name}", file=sys.stderr, flush=True)
        rows.extend(importlib.import_module(f"bench.{module.name}").run(args.quick))
    print(f"\nmachine: {platform.node()} {platform.machine()} python {platform.python_version()}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
