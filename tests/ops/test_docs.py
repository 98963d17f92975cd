"""The documentation: the site builds strictly (no broken link, anchor or stray page), the benchmarks
page is generated from the last `make bench` run, and nothing points at notes outside the repository."""
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "benchmarks" / "last-run.json"
ROW_KEYS = {"bench", "figure", "value", "unit", "floor", "ratio", "target"}


def bench_hook():
    spec = importlib.util.spec_from_file_location("bench_table_hook", ROOT / "docs" / "hooks" / "bench_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_site_builds_strictly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not re.search(r"^(WARNING|ERROR)\b", output, re.MULTILINE), output
    page = (site / "benchmarks" / "index.html").read_text(encoding="utf-8")
    assert "bench-table" not in page
    first = json.loads(RESULTS.read_text(encoding="utf-8"))["rows"][0]
    assert first["figure"].strip() in page
    assert (site / "index.html").exists()


def test_strict_build_fails_on_a_broken_link(tmp_path: Path) -> None:
    """The validation settings in mkdocs.yml really turn a broken link or anchor into a failure."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[gone](missing.md) [no anchor](index.md#nowhere)\n", encoding="utf-8")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    config = config.split("\nnav:\n")[0].replace("hooks:\n  - docs/hooks/bench_table.py\n", "")
    (tmp_path / "mkdocs.yml").write_text(config + "\nnav:\n  - index.md\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "s")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode != 0
    assert "missing.md" in result.stderr and "#nowhere" in result.stderr


def test_results_file_describes_its_run() -> None:
    data = json.loads(RESULTS.read_text(encoding="utf-8"))
    for key in ("source", "date", "machine", "python", "commit", "rows"):
        assert key in data, key
    assert data["rows"]
    for row in data["rows"]:
        assert set(row) == ROW_KEYS, row


def test_bench_rows_render_with_their_verdicts(tmp_path: Path) -> None:
    from bench.common import Row, write_results

    rows = [
        Row("visits", "location step", 1.8, 1.0, "ms", "<= 1.5x"),
        Row("visits", "  of which router", 0.5, 1.0, "ms", "share, not a target"),
        Row("memory", "RSS idle", 120.0, None, "MB", "< 200 MB"),
        Row("telegram_path", "updates/s", 500.0, 1000.0, "/s", ">= 0.6x bare"),
        Row("fanout", "429 answers", 0.0, None, "", "0"),
    ]
    (tmp_path / "benchmarks").mkdir()
    write_results(tmp_path / "benchmarks" / "last-run.json", rows, {"source": "test", "date": "2026-01-01",
                                                                     "machine": {}, "python": "3", "commit": None})
    hook = bench_hook()
    data = hook.load(tmp_path)
    assert [hook.verdict(row) for row in data["rows"]] == ["not met", None, "met", "not met", "met"]
    table = hook.render(data)
    table = table.replace("\u00a0", " ")
    assert "| visits | location step | 1.80 ms | 1.00 ms | 1.80x | &lt;= 1.5x | **not met** |" in table
    assert "↳ of which router" in table
    assert "| memory | RSS idle | 120.00 MB | – | – | &lt; 200 MB | met |" in table


def test_only_a_full_bench_run_writes_the_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.__main__ as bench_main

    target = tmp_path / "last-run.json"
    monkeypatch.setattr(bench_main, "RESULTS", target)
    monkeypatch.setattr(bench_main, "ROOT", tmp_path)
    monkeypatch.setattr(bench_main, "_postgres_version", lambda: None)
    monkeypatch.setattr(bench_main.pkgutil, "iter_modules", lambda paths: [])
    for argv in (["--quick"], ["pool"]):
        monkeypatch.setattr(sys, "argv", ["bench", *argv])
        assert bench_main.main() == 0
        assert not target.exists(), argv
    monkeypatch.setattr(sys, "argv", ["bench"])
    assert bench_main.main() == 0
    data = json.loads(target.read_text(encoding="utf-8"))
    assert data["rows"] == [] and data["python"] and "date" in data and "commit" in data


def test_readme_starts_with_the_two_commands_and_links_into_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = re.search(r"```[^\n]*\n(.*?)```", readme, re.DOTALL)
    assert first_block and first_block.group(1).split() == ["make", "run", "make", "test"]
    links = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme)
    local = [link for link in links if "://" not in link]
    assert any(link.startswith("docs/") for link in local)
    for link in local:
        assert (ROOT / link).exists(), link


def tracked_files() -> list[Path]:
    result = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, timeout=60)
    if result.returncode != 0:
        pytest.skip("not a git checkout")
    return [ROOT / name for name in result.stdout.decode().split("\0") if name]


def test_nothing_points_at_design_notes_outside_the_repository() -> None:
    """Everything the old design notes said lives on the design pages now."""
    needles = ("DESIGN" + ".md", "/work/" + "shared", "seed/" + "000_")
    offenders = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        offenders += [f"{path.relative_to(ROOT)}: {needle}" for needle in needles if needle in text]
    assert not offenders


def test_every_project_path_the_docs_name_exists() -> None:
    """A reader following `tests/...`, `bot/...`, `bench/...` or `deploy/...` in the docs finds the file."""
    named = re.compile(r"`((?:tests|bot|db|bench|deploy)/[\w./-]+\.(?:py|conf|service|j2|yaml|env))`")
    missing = sorted({f"{page.relative_to(ROOT)}: {path}" for page in (ROOT / "docs").rglob("*.md")
                      for path in named.findall(page.read_text(encoding="utf-8")) if not (ROOT / path).exists()})
    assert not missing, "the docs name files that do not exist:\n" + "\n".join(missing)
