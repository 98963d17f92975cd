"""`python -m bench [--quick] [names...]`: run every benchmark module and print one table.

A full run (every module, not --quick) also writes its rows and the run's description to
docs/benchmarks/last-run.json; the documentation's benchmarks page is built from that file.
Quick and partial runs print only: they must not replace the figures of the last full run.
"""
import argparse
import importlib
import os
import pkgutil
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Row, print_table, write_results

SKIP = {"common", "__main__"}
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks" / "last-run.json"


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def _memory_gb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _postgres_version() -> str | None:
    try:
        import psycopg

        from bench.common import PG_ADMIN_URL

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception:  # only a description of the run; the benches themselves would have failed
        return None


def describe_run(started: datetime, seconds: float) -> dict:
    commit = _git("rev-parse", "HEAD")
    return {
        "source": "make bench (python -m bench, full run)",
        "date": started.isoformat(timespec="seconds"),
        "duration_s": round(seconds),
        "commit": commit,
        "commit_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")) if commit else None,
        "machine": {"node": platform.node(), "arch": platform.machine(), "cpu": _cpu_model(),
                    "cpus": os.cpu_count(), "memory_gb": _memory_gb()},
        "python": platform.python_version(),
        "postgresql": _postgres_version(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench")
    parser.add_argument("--quick", action="store_true", help="small data, for a smoke run")
    parser.add_argument("names", nargs="*", help="only these modules")
    args = parser.parse_args()
    started, clock = datetime.now(UTC), time.monotonic()
    rows: list[Row] = []
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if module.name in SKIP or (args.names and module.name not in args.names):
            continue
        print(f"== {module.name}", file=sys.stderr, flush=True)
        rows.extend(importlib.import_module(f"bench.{module.name}").run(args.quick))
    print(f"\nmachine: {platform.node()} {platform.machine()} python {platform.python_version()}")
    print_table(rows)
    if args.quick or args.names:
        print(f"\n(a {'quick' if args.quick else 'partial'} run: {RESULTS.relative_to(ROOT)} is not updated)",
              file=sys.stderr)
    else:
        write_results(RESULTS, rows, describe_run(started, time.monotonic() - clock))
        print(f"\nwritten to {RESULTS.relative_to(ROOT)} (commit it: the docs' benchmarks page shows it)",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
