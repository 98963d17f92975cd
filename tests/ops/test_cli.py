"""The `fieldcrm` command as a newcomer and an admin use it: a subprocess, a real SQLite file."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

FIELDCRM = [sys.executable, "-m", "bot.cli"]


def run(args: list[str], cwd: Path, stdin: str = "", **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_", "DATABASE_URL"))}
    environment.update({"PYTHONPATH": str(ROOT), **env})
    return subprocess.run(FIELDCRM + args, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120,
                          env=environment)


def test_piped_console_answers_each_line_and_exits(tmp_path):
    result = run(["run"], tmp_path, stdin="/help\n/whoami\n")
    assert result.returncode == 0, result.stderr
    assert "Commands you can use" in result.stdout and "Ada Admin" in result.stdout
    assert (tmp_path / "fieldcrm.sqlite3").exists()
    assert "Demo org loaded" in result.stderr
    again = run(["console", "--as", "li"], tmp_path, stdin="/whoami\n")
    assert "李雷 Li Lei" in again.stdout and "Demo org loaded" not in again.stderr


def test_demo_is_safe_to_run_twice(tmp_path):
    assert run(["demo"], tmp_path).returncode == 0
    assert run(["demo"], tmp_path).returncode == 0
    out = run(["console", "--as", "sam"], tmp_path, stdin="/whoami\n").stdout
    assert out.count("Sam Carter") == 1


def test_org_load_prints_invitation_codes_that_work(tmp_path):
    (tmp_path / "org.yaml").write_text(
        "units:\n  - name: HQ\n    children:\n      - name: Field\n"
        "users:\n  - {handle: ada, name: Ada, unit: HQ, role: admin}\n"
        "  - {handle: bo, name: Bo, unit: Field, role: rep, locale: zh}\n",
        encoding="utf-8",
    )
    result = run(["org", "load", "org.yaml"], tmp_path)
    assert result.returncode == 0, result.stderr
    codes = dict(line.removeprefix("invitation for ").split(": ") for line in result.stdout.splitlines()
                 if line.startswith("invitation for"))
    assert set(codes) == {"ada", "bo"}
    chat = run(["console", "--as", "bo-phone"], tmp_path, stdin=f"/join {codes['bo']}\n/whoami\n").stdout
    assert "欢迎" in chat and "HQ / Field" in chat
    invite = run(["invite", "bo"], tmp_path)
    assert invite.returncode == 0 and "Invitation code for bo" in invite.stdout


def test_org_file_with_a_cycle_is_refused_in_one_line(tmp_path):
    (tmp_path / "org.yaml").write_text(
        "units:\n  - {name: A, parent: B}\n  - {name: B, parent: A}\n", encoding="utf-8"
    )
    result = run(["org", "load", "org.yaml"], tmp_path)
    assert result.returncode == 2 and "cycle" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HTTP_PORT": "eighty"}, "HTTP_PORT"),
        ({"ADMIN_PORT": "70000"}, "ADMIN_PORT"),
        ({"HTTP_PORT": "9090", "ADMIN_PORT": "9090"}, "ADMIN_PORT"),
        ({"DEFAULT_TIMEZONE": "Mars/Base"}, "DEFAULT_TIMEZONE"),
        ({"DEFAULT_LOCALE": "fr"}, "DEFAULT_LOCALE"),
        ({"DEFAULT_PHONE_REGION": "XX"}, "DEFAULT_PHONE_REGION"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"TELEGRAM_BOT_TOKEN": "1:A", "TELEGRAM_WEBHOOK_URL": "https://x/tg"}, "TELEGRAM_WEBHOOK_SECRET"),
    ],
)
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(tmp_path, env, named):
    result = run(["run"], tmp_path, **env)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and named in result.stderr and "Traceback" not in result.stderr


def test_make_run_is_the_readme_command():
    makefile = (ROOT / "Makefile").read_text()
    assert "fieldcrm run" in makefile and (ROOT / ".ci" / "run").read_text().count("make test") == 1


def test_unlink_ends_a_link_keeps_the_row_and_a_new_invitation_rejoins(tmp_path):
    assert run(["demo"], tmp_path).returncode == 0
    result = run(["unlink", "li", "console"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Unlinked li from console (li)" in result.stdout
    assert "invitation code" in run(["console", "--as", "li"], tmp_path, stdin="/whoami\n").stdout
    again = run(["unlink", "li", "console"], tmp_path)
    assert again.returncode == 2 and "li has no linked console account; nothing was changed" in again.stderr
    nobody = run(["unlink", "nobody", "telegram"], tmp_path)
    assert nobody.returncode == 2 and "No active user with the handle nobody" in nobody.stderr
    unknown = run(["invite", "nobody"], tmp_path)
    assert unknown.returncode == 2 and "fieldcrm: No active user with the handle nobody" in unknown.stderr
    old = run(["invite", "li"], tmp_path).stdout.split(": ")[1].split()[0]
    new = run(["invite", "li"], tmp_path).stdout.split(": ")[1].split()[0]
    chat = run(["console", "--as", "li"], tmp_path, stdin=f"/join {old}\n/join {new}\n/whoami\n").stdout
    assert "replaced by a newer one" in chat and "欢迎" in chat and "已绑定账号: 1 个" in chat
    import sqlite3

    with sqlite3.connect(tmp_path / "fieldcrm.sqlite3") as conn:
        rows = conn.execute("SELECT unlinked_at IS NULL FROM platform_identities WHERE platform_user_id = 'li'"
                            " ORDER BY id").fetchall()
        audit = conn.execute("SELECT action, platform, after FROM audit_log WHERE record_type = 'identity'"
                             " AND action = 'update'").fetchall()
    assert rows == [(0,), (1,)]
    assert len(audit) == 1 and audit[0][1] == "system" and "unlinked_at" in audit[0][2]
