"""What every benchmark shares: a scratch PostgreSQL database, timing, and the result table.

Every figure is measured beside its floor in the same run and reported as a ratio; medians over
several runs, because the machine is shared and noisy. A full run also writes its rows to
docs/benchmarks/last-run.json, from which the documentation's benchmarks page is built.
"""
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg
from sqlalchemy import text

from db.migrate import upgrade
from db.session import Database
from db.watchdog import Timeouts

PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


# Benches load millions of rows in single statements: no server or client timeout cuts them short.
# (The waits measured are the same under any limit: the watchdog arms every request alike.)
BULK = Timeouts(statement=0, lock=0, idle_in_transaction=0, command=3600.0)


@dataclass
class Row:
    bench: str
    figure: str
    value: float
    floor: float | None
    unit: str = "ms"
    target: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.floor if self.floor else None


@contextmanager
def scratch_database(label: str, keep: bool = False) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database; dropped afterwards unless keep."""
    name = f"fieldcrm_bench_{label}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        if not keep:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_statements(db: Database, statements: list[str], params: dict | None = None) -> None:
    """A bench's data: its statements run in one transaction."""
    with db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params or {})


def analyze(db: Database, statement: str = "ANALYZE") -> None:
    """Fresh planner statistics (and, with VACUUM, visibility maps) after loading, outside a transaction."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(statement))


def sample(action: Callable[[], object], runs: int) -> list[float]:
    """Wall time of each run, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return times


def median(times: list[float]) -> float:
    return statistics.median(times)


def p99(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def interleaved(actions: dict[str, Callable[[], object]], runs: int) -> dict[str, list[float]]:
    """Alternate the measured action and its floor, so machine noise hits both alike."""
    results: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(runs):
        for name, action in actions.items():
            results[name].extend(sample(action, 1))
    return results


def row_data(row: Row) -> dict:
    """One row as the results file stores it (and the docs' benchmarks page reads it)."""
    return {"bench": row.bench, "figure": row.figure, "value": round(row.value, 4), "unit": row.unit,
            "floor": None if row.floor is None else round(row.floor, 4),
            "ratio": None if row.ratio is None else round(row.ratio, 4), "target": row.target}


def write_results(path: str | os.PathLike, rows: list[Row], run: dict) -> None:
    """The results file: the run's description (date, machine, python, commit...) and its rows."""
    data = {**run, "rows": [row_data(row) for row in rows]}
    with open(path, "w", encoding="utf-8") as out:
        json.dump(data, out, ensure_ascii=False, indent=2)
        out.write("\n")


def print_table(rows: list[Row]) -> str:
    header = f"{'benchmark':<14} {'figure':<52} {'value':>11} {'floor':>11} {'ratio':>7}  target"
    lines = [header, "-" * len(header)]
    for row in rows:
        floor = f"{row.floor:.2f}" if row.floor is not None else "-"
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "-"
        lines.append(f"{row.bench:<14} {row.figure:<52} {row.value:>9.2f}{row.unit:>2} {floor:>11} {ratio:>7}  {row.target}")
    table = "\n".join(lines)
    print(table, flush=True)
    return table
