"""Throwaway embedded PostgreSQL and Redis for a test run without DATABASE_URL / REDIS_URL."""

import atexit
import contextlib
import os
import shutil
from pathlib import Path

from config import embedded

TEST_SERVERS_DIR = embedded.LOCAL_DIR / "test-servers"


def _reap_leftovers() -> None:
    """Stop and remove servers of earlier test runs whose process is gone (killed, crashed)."""
    if not TEST_SERVERS_DIR.exists():
        return
    for run_dir in TEST_SERVERS_DIR.iterdir():
        try:
            owner_pid = int(run_dir.name)
        except ValueError:
            continue
        try:
            os.kill(owner_pid, 0)
            continue  # still running
        except ProcessLookupError:
            pass
        for server in _servers_in(run_dir, postgres_port=0, redis_port=0):
            with contextlib.suppress(embedded.EmbeddedServerError, OSError):
                server.destroy()
        shutil.rmtree(run_dir, ignore_errors=True)


def _servers_in(run_dir: Path, *, postgres_port: int, redis_port: int):
    return (
        embedded.EmbeddedPostgres(run_dir / "postgres", port=postgres_port, durable=False),
        embedded.EmbeddedRedis(run_dir / "redis", port=redis_port),
    )


def start_throwaway_servers() -> None:
    """Start what the environment does not provide; export the URLs; clean up at exit."""
    need_postgres = not os.environ.get("DATABASE_URL")
    need_redis = not os.environ.get("REDIS_URL")
    if not (need_postgres or need_redis):
        return
    _reap_leftovers()
    run_dir = TEST_SERVERS_DIR / str(os.getpid())
    run_dir.mkdir(parents=True, exist_ok=True)
    postgres, redis = _servers_in(
        run_dir, postgres_port=embedded.free_port(), redis_port=embedded.free_port()
    )

    def cleanup() -> None:
        if need_redis:
            redis.destroy()
        if need_postgres:
            postgres.destroy()
        shutil.rmtree(run_dir, ignore_errors=True)

    atexit.register(cleanup)
    if need_postgres:
        postgres.ensure_running()
        os.environ["DATABASE_URL"] = postgres.url()
    if need_redis:
        redis.ensure_running()
        os.environ["REDIS_URL"] = redis.url()
