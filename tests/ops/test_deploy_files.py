"""The reference deployment's files name real settings and agree with each other (nginx itself is
run in tests/ops/test_deploy_nginx.py)."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.config import Settings
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "systemd" / "fieldcrm@.service"


def test_env_example_names_real_settings_and_leaves_ports_to_the_unit():
    example = (DEPLOY / "fieldcrm.env.example").read_text()
    names = set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", example, re.M))
    assert names and names <= set(Settings.model_fields), names - set(Settings.model_fields)
    assert not names & {"HTTP_PORT", "ADMIN_PORT", "HTTP_HOST", "ADMIN_HOST"}, "set per instance by the unit"
    unit = UNIT.read_text()
    assert "EnvironmentFile=/etc/fieldcrm/fieldcrm.env" in unit and "Restart=always" in unit


def test_unit_gives_each_instance_its_port_and_the_admin_port_1000_above():
    (exec_start,) = re.findall(r"^ExecStart=(.*)$", UNIT.read_text(), re.M)
    assert "HTTP_PORT=%i" in UNIT.read_text()
    # What systemd runs for fieldcrm@8081 ($$ is a literal $), with `env` in place of the program.
    line = exec_start.replace("%i", "8081").replace("$$", "$").replace("/opt/fieldcrm/.venv/bin/fieldcrm run", "env")
    assert line.startswith("/bin/sh -c '") and line.endswith("'")
    out = subprocess.run(["/bin/sh", "-c", line.removeprefix("/bin/sh -c '")[:-1]], capture_output=True, text=True,
                         check=True).stdout
    assert "ADMIN_PORT=9081" in out.splitlines()


def test_unit_passes_systemd_analyze(tmp_path: Path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    shutil.copy(UNIT, tmp_path / UNIT.name)
    done = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "fieldcrm@8081.service")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
