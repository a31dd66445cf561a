"""A RabbitMQ node of the test's own, so that a test can stop and restart its broker without
touching the machine's.

Debian's ``rabbitmq-server`` package, started from its scripts in ``/usr/lib/rabbitmq/bin``
(the ``/usr/sbin`` wrappers switch to the ``rabbitmq`` user and its fixed directories) with a
node name, ports, data, logs, configuration and Erlang cookie of its own, and no plugins. Its
data survive ``stop()``: a restart finds the durable queues and the messages they held. It takes
about 4 s to start on a 2-core machine (up to 8 s while the tests load it).
"""

import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

from config.embedded import free_port

SCRIPTS_DIR = Path("/usr/lib/rabbitmq/bin")
SERVER = SCRIPTS_DIR / "rabbitmq-server"
CTL = SCRIPTS_DIR / "rabbitmqctl"
START_TIMEOUT_SECONDS = 60


def available() -> bool:
    return SERVER.exists() and CTL.exists()


class RabbitMQ:
    """A single RabbitMQ node on 127.0.0.1:``port``; ``url()`` reaches it as guest."""

    def __init__(self, directory: Path, *, port: int | None = None):
        self.directory = Path(directory)
        self.port = port or free_port()
        self.dist_port = free_port()
        self.node = f"continuum-test-{uuid.uuid4().hex[:8]}@localhost"
        self.process: subprocess.Popen | None = None
        self.start_seconds: float | None = None

    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    @property
    def log_file(self) -> Path:
        return self.directory / "server.out"

    def _env(self) -> dict[str, str]:
        d = self.directory
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))},
            # The Erlang cookie is read from $HOME: ours, for this node and rabbitmqctl.
            "HOME": str(d),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PID_FILE": str(d / "rabbitmq.pid"),
            # Not the machine's /etc/rabbitmq files.
            "RABBITMQ_CONF_ENV_FILE": str(d / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_PLUGINS_EXPAND_DIR": str(d / "plugins-expand"),
        }

    def _write_configuration(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "rabbitmq-env.conf").write_text("")
        (self.directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
        )
        (self.directory / "enabled_plugins").write_text("[].\n")

    def _accepts_amqp(self) -> bool:
        import amqp

        connection = amqp.Connection(
            f"127.0.0.1:{self.port}", userid="guest", password="guest", connect_timeout=1
        )
        try:
            connection.connect()
        except (OSError, amqp.exceptions.AMQPError):
            return False
        with contextlib.suppress(OSError, amqp.exceptions.AMQPError):
            connection.close()
        return True

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_running(self) -> bool:
        """Start the node (again, after ``stop()``) and wait until it takes AMQP connections.
        The same call as ``config.embedded.EmbeddedRedis``'s, so a test drives either broker."""
        if self.is_running():
            return False
        self._write_configuration()
        started = time.monotonic()
        log = self.log_file.open("a")
        self.process = subprocess.Popen(
            [str(SERVER)],
            env=self._env(),
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own group: stop() reaches the Erlang VM and its helpers, nothing of the test's.
            start_new_session=True,
        )
        log.close()
        deadline = started + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self._accepts_amqp():
                self.start_seconds = time.monotonic() - started
                return True
            time.sleep(0.2)
        tail = self.log_file.read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"rabbitmq-server did not start:\n{tail}")

    def stop(self) -> bool:
        """Stop the node as its service would (SIGTERM: a clean shutdown); data are kept."""
        if self.process is None:
            return False
        process, self.process = self.process, None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        # The VM may still be closing when the script returns: wait for the group to be gone.
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        return True

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def ctl(self, *args: str) -> str:
        """``rabbitmqctl`` against this node; its standard output."""
        result = subprocess.run(
            [str(CTL), "-n", self.node, "-q", *args],
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout

    def rows(self, *args: str) -> list[list[str]]:
        """A ``list_…`` command's rows, tab-separated columns, without the header."""
        lines = self.ctl(*args, "--no-table-headers").splitlines()
        return [line.split("\t") for line in lines if line.strip()]
