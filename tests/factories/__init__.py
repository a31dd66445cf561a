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
from tests.factories.programs import (
    AuthorizationFactory,
    CoverageFactory,
    DisclosureFactory,
    EnrollmentFactory,
    InquiryFactory,
    MeasureResponseFactory,
    PayerFactory,
    ProgramFactory,
    answers_for,
    referral_source,
)
from tests.factories.scheduling import SeriesFactory, SessionFactory

__all__ = [
    "AuthorizationFactory",
    "ClinicFactory",
    "ConsentFactory",
    "ContactFactory",
    "CoverageFactory",
    "DisclosureFactory",
    "EnrollmentFactory",
    "InquiryFactory",
    "MeasureResponseFactory",
    "PatientFactory",
    "PayerFactory",
    "ProgramFactory",
    "SeriesFactory",
    "SessionFactory",
    "UserFactory",
    "admin_login",
    "answers_for",
    "app_account",
    "client_of",
    "due_sms",
    "group_session",
    "referral_source",
    "staff_user",
    "totp_code",
    "totp_device",
]
