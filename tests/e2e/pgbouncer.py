"""A real PgBouncer in transaction pooling, in front of a PostgreSQL server, for tests.

Debian's binary (``/usr/sbin/pgbouncer``, 1.18; ``make install`` installs it) runs with a config
of our own in ``directory``: it listens on 127.0.0.1 only (no unix socket, so nothing is shared
with a system PgBouncer or PostgreSQL), forwards every database name to the upstream server,
trusts the listed users (the upstream's own authentication still applies) and logs to
``directory / "pgbouncer.log"``. A small pool makes the clients of a test share server
connections, as a loaded production pooler does.

PgBouncer 1.18 refuses the ``options`` startup parameter that carries ``-c jit=off`` on a direct
connection (see ``DATABASE_POOLER`` in the settings); the pooler turns JIT off on every server
connection it opens instead (``connect_query``), which survives pooling.
"""

import os
import socket
import subprocess
from pathlib import Path

from config.embedded import free_port
from tests.e2e.processes import terminate, wait_answering

BINARY = Path("/usr/sbin/pgbouncer")
START_TIMEOUT_SECONDS = 20


class PgBouncer:
    """``start()``, use ``url(database)``, ``stop()``."""

    def __init__(
        self,
        directory: Path,
        *,
        upstream_host: str,
        upstream_port: int,
        port: int | None = None,
        pool_size: int = 2,
        users: tuple[str, ...] = ("postgres",),
    ):
        self.directory = Path(directory)
        self.upstream_host = upstream_host
        self.upstream_port = upstream_port
        self.port = port or free_port()
        self.pool_size = pool_size
        self.users = users
        self.process: subprocess.Popen | None = None

    def url(self, database: str, user: str = "postgres") -> str:
        return f"postgres://{user}@127.0.0.1:{self.port}/{database}"

    def _write_config(self) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True)
        auth_file = self.directory / "userlist.txt"
        auth_file.write_text("".join(f'"{user}" ""\n' for user in self.users))
        config = self.directory / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={self.upstream_host} port={self.upstream_port}"
            " connect_query='SET jit = off'\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {auth_file}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 500\n"
            # Clients wait for a server connection rather than fail while the pool is busy.
            "query_wait_timeout = 60\n"
        )
        return config

    def start(self) -> None:
        if not BINARY.exists():
            raise RuntimeError(f"{BINARY} is missing: `make install` installs Debian's pgbouncer")
        config = self._write_config()
        # PgBouncer refuses to run as root; it reads its files first, then drops to ``nobody``,
        # and logs to the stderr we opened, so ``directory`` may stay private.
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        log = (self.directory / "pgbouncer.log").open("ab")
        self.process = subprocess.Popen(
            [str(BINARY), *user, str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        try:
            wait_answering(
                self.process,
                self._accepts_connections,
                name="pgbouncer",
                timeout=START_TIMEOUT_SECONDS,
                interval=0.05,
                log=lambda: (self.directory / "pgbouncer.log").read_text(errors="replace")[-3000:],
            )
        except RuntimeError:
            self.stop()
            raise

    def _accepts_connections(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None:
            terminate(self.process, timeout=10)
        self.process = None

    def __enter__(self) -> "PgBouncer":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
