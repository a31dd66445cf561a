"""The tests' one vocabulary for building data: factory-boy factories that create through the
product's services, and the few helpers that sign people in. Import from ``tests.factories``."""

from tests.factories.clinic import (
    ClinicFactory,
    UserFactory,
    admin_login,
    app_account,
    client_of,
    due_sms,
    group_session,
    staff_user,
    totp_code,
    totp_device,
)
from tests.factories.patients import ConsentFactory, ContactFactory, PatientFactory
from tests.factories.programs import DisclosureFactory, EnrollmentFactory, ProgramFactory
from tests.factories.scheduling import SeriesFactory, SessionFactory

__all__ = [
    "ClinicFactory",
    "ConsentFactory",
    "ContactFactory",
    "DisclosureFactory",
    "EnrollmentFactory",
    "PatientFactory",
    "ProgramFactory",
    "SeriesFactory",
    "SessionFactory",
    "UserFactory",
    "admin_login",
    "app_account",
    "client_of",
    "due_sms",
    "group_session",
    "staff_user",
    "totp_code",
    "totp_device",
]
