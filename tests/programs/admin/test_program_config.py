"""Programs and beds configured in the admin: the level's defaults, constraints as form errors,
scoping, supervisors only."""

import pytest

from clinic.models import AuditAction, Bed
from patients.models import Level
from programs.models import LEVEL_DEFAULTS, Program
from tests.factories import ProgramFactory
from tests.programs.admin.helpers import BEDS, PROGRAMS, audit_rows, html, log_in, program_form

pytestmark = pytest.mark.django_db


def test_a_new_program_with_empty_bounds_takes_the_levels_defaults(client, supervisor, clinic):
    log_in(client, supervisor)

    response = client.post(f"{PROGRAMS}add/", program_form(clinic))

    assert response.status_code == 302
    program = Program.objects.get()
    for name, value in LEVEL_DEFAULTS[Level.IOP].items():
        assert getattr(program, name) == value, name
    event = audit_rows(AuditAction.CREATE, object_type="programs.program").get()
    assert (event.actor, event.clinic, event.patient_id) == (supervisor, clinic, None)


def test_a_bound_given_on_the_add_form_is_kept(client, supervisor, clinic):
    log_in(client, supervisor)

    response = client.post(
        f"{PROGRAMS}add/", program_form(clinic, max_stay_days="120", default_stay_days="60")
    )

    assert response.status_code == 302
    program = Program.objects.get()
    assert (program.min_stay_days, program.max_stay_days, program.default_stay_days) == (
        42,
        120,
        60,
    )


def test_a_violated_check_constraint_is_a_form_error(client, supervisor, clinic):
    log_in(client, supervisor)

    response = client.post(
        f"{PROGRAMS}add/", program_form(clinic, min_stay_days="100", max_stay_days="30")
    )

    assert response.status_code == 200
    assert "The minimum stay cannot exceed the maximum stay." in html(response)
    assert not Program.objects.exists()
    assert not audit_rows(AuditAction.CREATE).exists()


def test_a_duplicate_program_name_is_a_form_error(client, supervisor, clinic, iop):
    log_in(client, supervisor)

    response = client.post(f"{PROGRAMS}add/", program_form(clinic, name=iop.name))

    assert response.status_code == 200
    assert "This clinic already has a program with this name." in html(response)
    assert Program.objects.count() == 1


def test_editing_a_program_is_validated_and_audited(client, supervisor, iop):
    log_in(client, supervisor)
    url = f"{PROGRAMS}{iop.pk}/change/"
    data = {
        "name": iop.name,
        "track": "evening",
        "capacity": "8",
        "min_stay_days": "42",
        "max_stay_days": "182",
        "default_stay_days": "200",
        "waitlist_offer_hours": "24",
        "is_active": "on",
        "_save": "Save",
    }

    refused = client.post(url, data)

    assert refused.status_code == 200
    assert "The planned stay cannot be longer than the maximum stay." in html(refused)

    saved = client.post(url, {**data, "default_stay_days": "90"})

    assert saved.status_code == 302
    iop.refresh_from_db()
    assert (iop.capacity, iop.default_stay_days, iop.waitlist_offer_hours) == (8, 90, 24)
    assert audit_rows(AuditAction.UPDATE, object_type="programs.program").count() == 1


def test_only_supervisors_configure_programs(client, admissions, clinic, iop):
    log_in(client, admissions)

    assert client.get(PROGRAMS).status_code == 200
    assert client.get(f"{PROGRAMS}{iop.pk}/change/").status_code == 200
    assert client.post(f"{PROGRAMS}add/", program_form(clinic, name="New")).status_code == 403
    assert Program.objects.count() == 1


def test_programs_of_other_clinics_are_hidden(client, supervisor, iop, other_clinic):
    elsewhere = ProgramFactory(clinic=other_clinic, name="Faraway Residential", capacity=2)
    log_in(client, supervisor)

    listing = client.get(PROGRAMS)

    assert {p.pk for p in listing.context["cl"].result_list} == {iop.pk}
    assert client.get(f"{PROGRAMS}{elsewhere.pk}/change/").status_code == 302
    response = client.post(f"{PROGRAMS}add/", program_form(other_clinic))
    assert response.status_code == 200
    assert "Select a valid choice" in html(response)


def test_beds_belong_to_residential_programs(client, supervisor, clinic):
    bed = Bed.objects.create(clinic=clinic, room="R1", label="A")
    log_in(client, supervisor)

    response = client.post(f"{PROGRAMS}add/", program_form(clinic, beds=[str(bed.pk)]))

    assert response.status_code == 200
    assert "Only residential programs have beds." in html(response)

    response = client.post(
        f"{PROGRAMS}add/",
        program_form(clinic, name="Harbor House", level="residential", track="", beds=[bed.pk]),
    )
    assert response.status_code == 302
    assert list(Program.objects.get().beds.all()) == [bed]


# 11. Beds -----------------------------------------------------------------------------------------


def test_a_supervisor_adds_a_bed_and_the_write_is_audited(client, supervisor, clinic):
    log_in(client, supervisor)

    response = client.post(
        f"{BEDS}add/",
        {"clinic": str(clinic.pk), "room": "R2", "label": "A", "is_active": "on", "_save": "Save"},
    )

    assert response.status_code == 302
    bed = Bed.objects.get()
    assert (bed.clinic, bed.room, bed.label) == (clinic, "R2", "A")
    event = audit_rows(AuditAction.CREATE, object_type="clinic.bed").get()
    assert (event.actor, event.patient_id) == (supervisor, None)


def test_a_duplicate_bed_is_a_form_error(client, supervisor, clinic):
    Bed.objects.create(clinic=clinic, room="R2", label="A")
    log_in(client, supervisor)

    response = client.post(
        f"{BEDS}add/",
        {"clinic": str(clinic.pk), "room": "R2", "label": "A", "is_active": "on", "_save": "Save"},
    )

    assert response.status_code == 200
    assert "This room already has a bed with this label." in html(response)
    assert Bed.objects.count() == 1


def test_beds_are_scoped_and_only_supervisors_write(client, admissions, clinic, other_clinic):
    own = Bed.objects.create(clinic=clinic, room="R1", label="A")
    Bed.objects.create(clinic=other_clinic, room="R1", label="A")
    log_in(client, admissions)

    listing = client.get(BEDS)

    assert listing.status_code == 200
    assert [b.pk for b in listing.context["cl"].result_list] == [own.pk]
    assert client.get(f"{BEDS}add/").status_code == 403
