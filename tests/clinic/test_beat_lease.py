"""One beat sends the periodic tasks: the lease in the database (clinic.services.leases) and the
scheduler that sends only while holding it (config.beat). Two real beats: tests/e2e."""

import datetime
import logging
import threading
import time

import pytest
from django.db import connection

from clinic.models import SchedulerLease
from clinic.services.leases import lease_release, lease_take
from config.beat import LEASE_NAME, LeaseScheduler
from config.celery import app as celery_app

T0 = datetime.datetime(2026, 12, 1, 15, tzinfo=datetime.UTC)


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


# The lease ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_lease_is_held_by_one_holder_until_it_runs_out():
    assert lease_take(name="job", holder="a", now=at(0), seconds=30)
    assert not lease_take(name="job", holder="b", now=at(10), seconds=30)
    # Renewed: it now runs until 50.
    assert lease_take(name="job", holder="a", now=at(20), seconds=30)
    assert not lease_take(name="job", holder="b", now=at(49), seconds=30)
    # Not renewed in time: the other takes it over, and the first no longer holds it.
    assert lease_take(name="job", holder="b", now=at(50), seconds=30)
    assert not lease_take(name="job", holder="a", now=at(51), seconds=30)
    assert SchedulerLease.objects.get(name="job").expires_at == at(80)


@pytest.mark.django_db
def test_a_released_lease_can_be_taken_at_once_and_only_its_holder_releases_it():
    lease_take(name="job", holder="a", now=at(0), seconds=30)

    lease_release(name="job", holder="b")
    assert not lease_take(name="job", holder="b", now=at(1), seconds=30)
    lease_release(name="job", holder="a")
    assert lease_take(name="job", holder="b", now=at(1), seconds=30)


@pytest.mark.django_db(transaction=True)
def test_of_many_asking_at_once_exactly_one_takes_the_lease():
    won = []
    start = threading.Barrier(8)

    def ask(holder):
        start.wait()
        try:
            if lease_take(name="race", holder=holder, now=at(0), seconds=30):
                won.append(holder)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(f"h{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(won) == 1
    assert SchedulerLease.objects.get(name="race").holder == won[0]


# The scheduler ------------------------------------------------------------------------------------


@pytest.fixture
def schedulers(tmp_path, settings):
    """``make(name)``: a beat's scheduler whose sends are recorded in ``sent[name]``."""
    settings.BEAT_LEASE_SECONDS = 0.3  # renewed every 0.1 s
    sent = {}
    made = []

    def make(name):
        scheduler = LeaseScheduler(app=celery_app, schedule_filename=str(tmp_path / name))
        sent[name] = []
        scheduler.apply_async = lambda entry, **kwargs: sent[name].append(entry.name)
        made.append(scheduler)
        return scheduler

    make.sent = sent
    yield make
    for scheduler in made:
        scheduler.close()


@pytest.mark.django_db
def test_two_schedulers_send_as_one_and_the_other_takes_over_when_the_lease_runs_out(
    schedulers, caplog
):
    caplog.set_level(logging.WARNING, logger="config.beat")
    first, second = schedulers("first"), schedulers("second")
    entry = first.Entry(name="tick", task="clinic.tasks.alert_deliveries_send_task", schedule=1)

    for _ in range(3):
        first.apply_entry(entry)
        second.apply_entry(entry)

    assert schedulers.sent == {"first": ["tick"] * 3, "second": []}
    assert SchedulerLease.objects.get(name=LEASE_NAME).holder == first.holder

    # The first stops renewing (a killed beat): once its lease has run out, the second sends.
    time.sleep(0.35)
    second.apply_entry(entry)
    first.apply_entry(entry)

    assert schedulers.sent == {"first": ["tick"] * 3, "second": ["tick"]}
    assert [r.getMessage() for r in caplog.records] == [
        f"Beat {first.holder} holds the lease: it sends the periodic tasks.",
        f"Beat {second.holder} stands by: another beat holds the lease.",
        f"Beat {second.holder} holds the lease: it sends the periodic tasks.",
        f"Beat {first.holder} stands by: another beat holds the lease.",
    ]


@pytest.mark.django_db
def test_a_scheduler_that_stops_cleanly_hands_the_lease_over_at_once(schedulers):
    first, second = schedulers("first"), schedulers("second")
    entry = first.Entry(name="tick", task="clinic.tasks.alert_deliveries_send_task", schedule=1)
    first.apply_entry(entry)
    second.apply_entry(entry)

    first.close()
    time.sleep(0.11)  # the second asks again a third of the lease after its last try
    second.apply_entry(entry)

    assert schedulers.sent == {"first": ["tick"], "second": ["tick"]}


@pytest.mark.django_db
def test_the_scheduler_ticks_often_enough_to_renew_its_lease(schedulers, settings):
    settings.BEAT_LEASE_SECONDS = 30
    scheduler = schedulers("only")

    assert scheduler.max_interval == 10
    assert scheduler.tick() <= 10
