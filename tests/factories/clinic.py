import datetime
import itertools
import time

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from clinic.models import Clinic, ClinicMembership


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    public_name = factory.Sequence(lambda n: f"Riverside Health {n}")
    time_zone = "America/New_York"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("correct-horse-battery")


def staff_user(*, role: str, clinics=(), **kwargs):
    """A user in the role's group and a member of ``clinics``."""
    user = UserFactory(**kwargs)
    # get_or_create: transactional tests flush the groups the migration created.
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    for clinic in clinics:
        ClinicMembership.objects.create(user=user, clinic=clinic)
    return user


def totp_device(user):
    """The user's authenticator (a confirmed TOTP device), made on first use."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.get_or_create(
        user=user, name="authenticator", defaults={"confirmed": True}
    )[0]


def totp_code(device) -> str:
    """A code ``device`` takes now (Python's clock, so time_machine moves it): the one its
    authenticator app shows, or, when that was used already (a device takes each code once),
    the next step's, which the server's tolerance of one step also takes. So a test may sign
    in twice within one 30-second step, not three times."""
    from django_otp.oath import hotp

    device.refresh_from_db()
    now = (int(time.time()) - device.t0) // device.step
    step = max(now, device.last_t + 1)
    return f"{hotp(device.bin_key, step, device.digits):0{device.digits}d}"


def admin_login(client, user):
    """Sign ``user`` in to the admin in Django's test ``client`` as the login form does with
    password and code: the session holds the user and their verified second factor
    (django-otp's session key, what ``django_otp.login`` stores)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    device = totp_device(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def app_account(patient):
    """Link a new user to ``patient`` as their app account (what activation does)."""
    user = UserFactory()
    patient.app_user = user
    patient.save(update_fields=["app_user"])
    return user


def client_of(user):
    """An API client authenticated as ``user`` (no token round trip)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def group_session(clinic, starts_at, *, hours: float = 1, title: str = "Group"):
    """A group session of ``clinic`` from ``starts_at``, without a program (no roster)."""
    from scheduling.models import Session

    return Session.objects.create(
        clinic=clinic,
        title=title,
        kind="group",
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(hours=hours),
    )


_numbers = itertools.count()


def due_sms(clinic, count: int) -> list[int]:
    """``count`` patients with one SMS reminder each, due now, for a session in an hour; the
    reminders' ids, in order."""
    from patients.models import Patient
    from scheduling.models import Reminder, RosterEntry

    starts = timezone.now() + datetime.timedelta(hours=1)
    session = group_session(clinic, starts)
    patients = Patient.objects.bulk_create(
        Patient(
            clinic=clinic,
            mrn=f"C{n}",
            first_name="Pat",
            last_name=f"Number {n}",
            date_of_birth=datetime.date(1980, 1, 1),
            phone=f"+1202555{n:04d}",
            reminder_channels=["sms"],
        )
        for n in (next(_numbers) for _ in range(count))
    )
    entries = RosterEntry.objects.bulk_create(
        RosterEntry(session=session, patient=patient) for patient in patients
    )
    rows = Reminder.objects.bulk_create(
        Reminder(
            session=session,
            patient_id=entry.patient_id,
            roster_entry=entry,
            offset_minutes=120,
            channel="sms",
            scheduled_for=timezone.now() - datetime.timedelta(minutes=1),
        )
        for entry in entries
    )
    return sorted(r.pk for r in rows)
