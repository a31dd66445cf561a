"""clinic 0009: open risky check-in alerts of one patient, from before coalescing, fold into the
oldest before the index allowing one open alert per patient is built."""

import datetime
import importlib
from types import SimpleNamespace

import pytest
from django.db import connection

from clinic.models import AlertKind, StaffAlert

pytestmark = pytest.mark.django_db

migration = importlib.import_module("clinic.migrations.0010_alert_coalescing")
T0 = datetime.datetime(2026, 11, 2, 9, tzinfo=datetime.UTC)


def test_open_duplicates_fold_into_the_oldest_and_the_rest_close(clinic, clinician):
    with connection.cursor() as cursor:  # as the table was before the migration
        cursor.execute("DROP INDEX alert_one_open_per_patient")

    def alert(object_id, patient_id, minutes, kind=AlertKind.RISKY_CHECK_IN, **extra):
        return StaffAlert.objects.create(
            clinic=clinic,
            kind=kind,
            recipient=clinician,
            patient_id=patient_id,
            object_type="programs.checkin",
            object_id=object_id,
            message="A check-in needs attention (use reported).",
            created_at=T0 + datetime.timedelta(minutes=minutes),
            **extra,
        )

    oldest, middle, newest = alert("1", 7, 0), alert("2", 7, 5), alert("3", 7, 9)
    seen = alert("4", 7, 1, acknowledged_at=T0)
    alone = alert("5", 8, 2)
    offers = [alert(f"o{n}", 7, n, kind=AlertKind.WAITLIST_OFFER) for n in (1, 2)]

    migration.fold_open_alerts(None, SimpleNamespace(connection=connection))

    rows = StaffAlert.objects.in_bulk()
    assert (rows[oldest.pk].occurrences, rows[oldest.pk].acknowledged_at) == (3, None)
    assert rows[oldest.pk].last_occurred_at == newest.created_at
    assert rows[oldest.pk].message == "3 check-ins need attention."
    assert rows[middle.pk].acknowledged_at is not None
    assert rows[newest.pk].acknowledged_at is not None
    assert rows[middle.pk].acknowledged_by is None
    assert (rows[seen.pk].occurrences, rows[seen.pk].acknowledged_at) == (1, T0)
    assert (rows[alone.pk].occurrences, rows[alone.pk].acknowledged_at) == (1, None)
    assert rows[alone.pk].last_occurred_at == alone.created_at
    assert all(rows[o.pk].acknowledged_at is None for o in offers)
    assert not StaffAlert.objects.filter(
        kind=AlertKind.RISKY_CHECK_IN, acknowledged_at__isnull=True, patient_id=7
    ).exclude(pk=oldest.pk)
