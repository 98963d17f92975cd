"""Debian's nginx on loopback, running the shipped deploy/nginx/fieldcrm.conf.

The site file is the one operators copy: only its upstream servers, listen ports and certificate
paths are replaced (each substitution must match, so a reshaped file fails here instead of being
tested half). It is included from a small main config whose pid, logs and temporary files live in
a folder of their own; the access log records which process served each request. As root, nginx
runs as `nobody`, on unprivileged ports, never as the system's service.
"""
import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI, ROOT

NGINX = Path("/usr/sbin/nginx")
SHIPPED = ROOT / "deploy" / "nginx" / "fieldcrm.conf"
NOBODY = 65534
UPSTREAM_SERVER = re.compile(r"^(?P<indent>[ \t]*)server 127\.0\.0\.1:\d+(?P<params>[^;\n]*);\n", re.M)

MAIN = """worker_processes 2;
pid {base}/nginx.pid;
error_log {base}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format served '$request_method $request_uri $status $upstream_addr';
    access_log {base}/access.log served;
    client_body_temp_path {base}/tmp/body;
    proxy_temp_path {base}/tmp/proxy;
    fastcgi_temp_path {base}/tmp/fastcgi;
    uwsgi_temp_path {base}/tmp/uwsgi;
    scgi_temp_path {base}/tmp/scgi;
    include {base}/fieldcrm.conf;
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _replace(text: str, pattern: str, new: str, flags: int = 0) -> str:
    changed, n = re.subn(pattern, new, text, count=1, flags=flags)
    assert n == 1, f"deploy/nginx/fieldcrm.conf no longer has {pattern!r}"
    return changed


def _upstreams(text: str, ports: list[int]) -> str:
    found = list(UPSTREAM_SERVER.finditer(text))
    assert found, "deploy/nginx/fieldcrm.conf has no `server 127.0.0.1:PORT ...;` line in its upstream"
    first = found[0]
    lines = "".join(f"{first['indent']}server 127.0.0.1:{port}{first['params']};\n" for port in ports)
    return text[:first.start()] + lines + UPSTREAM_SERVER.sub("", text[first.start():])


def site_config(upstream_ports: list[int], https_port: int, http_port: int, cert: Path, key: Path) -> str:
    """The shipped site file with these ports and this certificate."""
    text = _upstreams(SHIPPED.read_text(), upstream_ports)
    text = _replace(text, r"listen 443 ", f"listen 127.0.0.1:{https_port} ")
    text = _replace(text, r"^\s*listen \[::\]:443 [^;]*;\n", "", re.M)
    text = _replace(text, r"listen 80;", f"listen 127.0.0.1:{http_port};")
    text = _replace(text, r"^\s*listen \[::\]:80;\n", "", re.M)
    text = _replace(text, r"ssl_certificate /\S+;", f"ssl_certificate {cert};")
    return _replace(text, r"ssl_certificate_key /\S+;", f"ssl_certificate_key {key};")


def self_signed(base: Path) -> tuple[Path, Path]:
    cert, key = base / "cert.pem", base / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=bot.example.com"],
                   check=True, capture_output=True, timeout=30)
    return cert, key


def require_nginx() -> None:
    if NGINX.exists() and shutil.which("openssl"):
        return
    if IN_CI:
        pytest.fail(f"{NGINX} or openssl missing and CI=true (make system-deps installs them)")
    pytest.skip("nginx not installed (make system-deps)")


@dataclass
class Nginx:
    base: Path
    https_port: int
    http_port: int
    proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def write(self, upstream_ports: list[int]) -> Path:
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.base / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        cert, key = self_signed(self.base)
        (self.base / "fieldcrm.conf").write_text(site_config(upstream_ports, self.https_port, self.http_port, cert, key))
        conf = self.base / "nginx.conf"
        conf.write_text(MAIN.format(base=self.base))
        if os.geteuid() == 0:  # nobody must own what nginx writes and read its key
            for path in [self.base, *self.base.rglob("*")]:
                os.chown(path, NOBODY, NOBODY)
        return conf

    def command(self, *extra: str) -> list[str]:
        return [str(NGINX), "-p", str(self.base), "-e", str(self.base / "error.log"),
                "-c", str(self.base / "nginx.conf"), *extra]

    async def start(self, upstream_ports: list[int]) -> None:
        self.write(upstream_ports)
        as_nobody = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
        checked = subprocess.run(self.command("-t"), capture_output=True, text=True, timeout=30, **as_nobody)
        assert checked.returncode == 0, f"nginx -t refused the shipped config: {checked.stderr}"
        self.proc = await asyncio.create_subprocess_exec(*self.command("-g", "daemon off;"), **as_nobody)
        await wait_listening(self.https_port, what="nginx")

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGQUIT)  # graceful: requests in flight finish
        try:
            await asyncio.wait_for(self.proc.wait(), 10)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()

    def served(self) -> list[tuple[str, str, int, str]]:
        """(method, uri, status, upstream address(es)) per request logged so far."""
        log = self.base / "access.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [(m, uri, int(status), upstream) for m, uri, status, upstream in
                (line.split(" ", 3) for line in lines)]


async def wait_listening(port: int, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        assert time.monotonic() < deadline, f"{what} is not listening on {port}"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_nginx(upstream_ports: list[int]):
    require_nginx()
    base = Path(tempfile.mkdtemp(prefix="fieldcrm-nginx-"))
    os.chmod(base, 0o755)
    nginx = Nginx(base, free_port(), free_port())
    try:
        await nginx.start(upstream_ports)
        yield nginx
    finally:
        await nginx.stop()
        shutil.rmtree(base, ignore_errors=True)
