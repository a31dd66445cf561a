"""Two real ``celery beat`` processes started by mistake send what one would, and when the one
sending is killed, the other takes over (config.beat, the lease in the database).

No workers: the messages stay in the broker (a redis-server of the test's own), where the test
reads who sent each one (the ``origin`` header names the sending process).
"""

import json
import signal
import time

import pytest
import redis

from config.embedded import EmbeddedRedis, free_port
from tests.e2e.celery_processes import CeleryProcesses, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 3
DISPATCH = "scheduling.tasks.reminders_dispatch_task"  # every second (REMINDER_SCAN_SECONDS=1)


@pytest.fixture
def broker(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis", port=free_port())
    server.ensure_running()
    yield server
    server.destroy()


@pytest.fixture
def beats(transactional_db, tmp_path, broker):
    """Two beats, each with its own schedule file and log, on the test's database."""
    processes = {
        name: CeleryProcesses(
            log_dir=tmp_path / name,
            broker_url=broker.url(),
            env={"BEAT_LEASE_SECONDS": str(LEASE_SECONDS)},
        )
        for name in ("a", "b")
    }
    yield processes
    for process in processes.values():
        process.stop_all()


def dispatch_senders(broker) -> list[int]:
    """The pid of the process that sent each dispatch message waiting in the broker, oldest
    first (kombu pushes on the left of each queue's list)."""
    client = redis.Redis.from_url(broker.url())
    senders = []
    for key in client.scan_iter():
        if client.type(key) != b"list":
            continue
        for raw in reversed(client.lrange(key, 0, -1)):
            headers = json.loads(raw)["headers"]
            if headers["task"] == DISPATCH:
                senders.append(int(headers["origin"].split("@")[0].removeprefix("gen")))
    return senders


def test_two_beats_send_as_one_and_the_other_takes_over_when_it_is_killed(beats, broker):
    for process in beats.values():
        process.start_beat()
    pids = {process.beat.pid: name for name, process in beats.items()}
    logs = "\n".join(process.logs() for process in beats.values())

    # when: both run for five seconds after the first dispatch
    assert wait_until(lambda: dispatch_senders(broker), timeout=30), logs
    time.sleep(5)

    # then: one beat sent them, one a second (two would have sent about twice as many)
    senders = dispatch_senders(broker)
    assert len(set(senders)) == 1, senders
    assert 4 <= len(senders) <= 7, senders
    holder = beats[pids[senders[0]]]
    standby_pid = next(pid for pid in pids if pid != senders[0])

    # when: the holder is killed (no clean hand-over)
    killed_at = time.monotonic()
    holder.beat.send_signal(signal.SIGKILL)
    holder.beat.wait(timeout=10)
    sent_by_holder = len(senders)

    # then: the other beat sends once the lease has run out, and it alone
    assert wait_until(lambda: standby_pid in dispatch_senders(broker), timeout=15), "\n".join(
        process.logs() for process in beats.values()
    )
    took_over_after = time.monotonic() - killed_at
    assert took_over_after <= LEASE_SECONDS + LEASE_SECONDS / 3 + 2
    time.sleep(2)
    senders = dispatch_senders(broker)
    assert senders[:sent_by_holder] == [senders[0]] * sent_by_holder
    assert set(senders[sent_by_holder:]) == {standby_pid}
    assert len(senders) - sent_by_holder >= 2
