"""The demo clinic and its staff (API.md, "Demo data"); idempotent: a second run changes nothing."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from clinic.models import Clinic, ClinicMembership, Role

DEMO_CLINIC_NAME = "Demo Recovery Center"
DEMO_PUBLIC_NAME = "Maple Street Health"
DEMO_TIME_ZONE = "America/New_York"

# username -> role (None: the superuser)
DEMO_STAFF = {
    "admin": None,
    "admissions": Role.ADMISSIONS,
    "clinician": Role.CLINICIAN,
    "supervisor": Role.SUPERVISOR,
}


@transaction.atomic
def seed_demo_clinic(*, password: str) -> Clinic:
    clinic, _ = Clinic.objects.get_or_create(
        name=DEMO_CLINIC_NAME,
        defaults={"public_name": DEMO_PUBLIC_NAME, "time_zone": DEMO_TIME_ZONE},
    )
    User = get_user_model()
    for username, role in DEMO_STAFF.items():
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, email=f"{username}@demo.invalid")
            user.set_password(password)
        user.is_staff = True
        user.is_superuser = role is None
        user.save()
        if role is not None:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        ClinicMembership.objects.get_or_create(user=user, clinic=clinic)
    return clinic
