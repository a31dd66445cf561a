"""`make run` on a machine without servers or the browser: embedded PostgreSQL and Redis,
migrate, seed, web, worker and beat; /health/ 200; SIGTERM stops everything it started."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from config.embedded import _fallback_dir, free_port

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.e2e


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def get(url: str, data: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def processes_started_by_this_run(local: Path) -> list[str]:
    """Processes whose environment names this run's scratch folder (web, worker, beat, ...)."""
    marker = f"CONTINUUM_LOCAL_DIR={local}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:
            continue
    return found


def test_make_run_serves_everything_and_sigterm_stops_it_all(tmp_path):
    port = free_port()
    local = tmp_path / "local"
    # What the test run's settings put in the environment: `make run` starts without them.
    test_run_only = {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY"}
    test_run_only |= {"EMAIL_BACKEND", "EMAIL_URL", "CELERY_BROKER_URL"}
    env = {key: value for key, value in os.environ.items() if key not in test_run_only}
    # A machine without the browser and without root: `make run` must not try to install
    # Chromium (an apt-get that fails, first on the PATH, would stop it).
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    apt_get = fake_bin / "apt-get"
    apt_get.write_text(f"#!/bin/sh\ntouch {tmp_path / 'apt-get-ran'}\nexit 100\n")
    apt_get.chmod(0o755)
    env.update(
        {
            "PORT": str(port),
            "CONTINUUM_LOCAL_DIR": str(local),
            "DEMO_PASSWORD": "e2e-demo-pass",
            "HEALTH_CHECK_TOKEN": "e2e-health-token",
            "CHROMIUM": str(tmp_path / "no-chromium"),
            "PATH": f"{fake_bin}:{env['PATH']}",
        }
    )
    log = (tmp_path / "run.log").open("w")
    make = subprocess.Popen(
        ["make", "run"], cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        status = 0
        while time.monotonic() < deadline and make.poll() is None:
            status, body = get(f"{base}/health/")
            if status == 200:
                break
            time.sleep(1)
        assert status == 200, (tmp_path / "run.log").read_text()[-3000:]
        assert json.loads(body) == {"status": "ok"}  # anyone: the status alone
        status, body = get(f"{base}/health/", headers={"Authorization": "Bearer e2e-health-token"})
        assert status == 200, body
        assert json.loads(body)["checks"] == {"database": "ok", "broker": "ok", "worker": "ok"}

        assert get(f"{base}/admin/login/")[0] == 200
        assert get(f"{base}/api/docs/")[0] == 200
        token_status, token = get(
            f"{base}/api/v1/auth/token/",
            json.dumps({"username": "admissions", "password": "e2e-demo-pass"}).encode(),
        )
        assert token_status == 200, token
        output = (tmp_path / "run.log").read_text()
        assert f"{base}/api/docs/" in output
        assert "admissions" in output
        assert "e2e-demo-pass" in output

        ports = json.loads((local / "embedded.json").read_text())
        assert listening(ports["postgres"])
        assert listening(ports["redis"])
        assert len(processes_started_by_this_run(local)) >= 3  # web, worker, beat at least
    finally:
        make.send_signal(signal.SIGTERM)
        try:
            make.wait(timeout=60)
        except subprocess.TimeoutExpired:
            make.kill()
            raise
        log.close()
        shutil.rmtree(_fallback_dir(local / "postgres"), ignore_errors=True)

    assert not (tmp_path / "apt-get-ran").exists()
    assert not listening(port)
    assert not listening(ports["postgres"])
    assert not listening(ports["redis"])
    assert processes_started_by_this_run(local) == []
