"""Every admin page walked as each staff role of one clinic, with a second clinic's data beside it.

Two demo clinics (``manage.py seed_demo``'s data, seeded into each) whose second clinic's
patients, programs, beds, contacts, rooms and sessions all carry the word "Strangeway". As
admissions, clinician, supervisor and utilization review of the first clinic, every registered
admin the role may see is opened: its list, a search for the other clinic's patient, each
filter pointed at the other clinic's ids, its autocompletes, and the other clinic's change
pages. "Strangeway" must
never appear. The audit trail: supervisors read it, nobody (not even a superuser) adds, edits or
deletes a row.
"""

import datetime

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from clinic.models import AuditEvent, Bed, Clinic, Room
from patients.demo import seed_demo_patients
from patients.models import Assessment, Patient, PatientContact
from programs.demo import (
    seed_demo_enrollments,
    seed_demo_follow_ups,
    seed_demo_notes,
    seed_demo_utilization_review,
)
from programs.models import Enrollment, Program, ProgressNote
from scheduling.models import Series, Session
from tests.factories import ClinicFactory, DisclosureFactory, admin_login, staff_user

pytestmark = pytest.mark.django_db

MARK = "Strangeway"
ROLES = ("admissions", "clinician", "supervisor", "utilization_review", "alumni_coordinator")


def seed(clinic) -> dict:
    users = {role: staff_user(role=role, clinics=[clinic], is_staff=True) for role in ROLES}
    seed_demo_patients(clinic=clinic, actor=users["admissions"])
    seed_demo_enrollments(
        clinic=clinic, admissions=users["admissions"], clinician=users["clinician"]
    )
    seed_demo_utilization_review(
        clinic=clinic, admissions=users["admissions"], reviewer=users["admissions"]
    )
    seed_demo_follow_ups(
        clinic=clinic, admissions=users["admissions"], clinician=users["clinician"]
    )
    seed_demo_notes(
        clinic=clinic,
        clinician=users["clinician"],
        supervisor=users["supervisor"],
        intern=users["clinician"],
    )
    # A disclosure to walk: the demo's consents cover treatment by the TPO class.
    patient = Patient.objects.filter(clinic=clinic, consents__recipients_tpo=True).first()
    DisclosureFactory(
        patient=patient,
        actor=users["admissions"],
        recipient_name="Next Provider",
        purpose="treatment",
        purpose_other="",
        categories=["demographics"],
    )
    return users


@pytest.fixture
def world():
    home = ClinicFactory(name="Home Clinic", public_name="Home Health")
    away = ClinicFactory(name=f"{MARK} Clinic", public_name=f"{MARK} Health")
    home_users = seed(home)
    seed(away)
    # Mark everything of the other clinic that a page could show.
    patients = Patient.objects.filter(clinic=away)
    for n, patient in enumerate(patients):
        Patient.objects.filter(pk=patient.pk).update(
            last_name=f"{MARK}{n}", first_name=f"{MARK}a{n}", email=f"{MARK.lower()}{n}@x.org"
        )
    for n, program in enumerate(Program.objects.filter(clinic=away)):
        Program.objects.filter(pk=program.pk).update(name=f"{MARK} program {n}")
    for model, field in ((Bed, "room"), (Room, "name")):
        for obj in model.objects.filter(clinic=away):
            model.objects.filter(pk=obj.pk).update(**{field: f"{MARK} {getattr(obj, field)}"})
    PatientContact.objects.filter(patient__clinic=away).update(name=MARK + " contact")
    Series.objects.filter(clinic=away).update(title=MARK + " group", location=MARK)
    Session.objects.filter(clinic=away).update(title=MARK + " group", location=MARK)
    assert Enrollment.objects.filter(program__clinic=away).exists()
    assert Session.objects.filter(clinic=away).exists()
    assert ProgressNote.objects.filter(session__clinic=away).exists()
    return {"home": home, "away": away, "users": home_users}


def changelist_url(model_admin) -> str:
    opts = model_admin.model._meta
    return f"/admin/{opts.app_label}/{opts.model_name}/"


def visible_admins(client, user):
    for model, model_admin in admin.site._registry.items():
        request = client.get("/admin/").wsgi_request
        request.user = user
        if model_admin.has_view_permission(request):
            yield model, model_admin


def filter_parameters(model_admin, away: Clinic) -> list[dict]:
    """Query strings that point each of the admin's filters at the other clinic."""
    away_programs = list(Program.objects.filter(clinic=away).values_list("pk", flat=True))
    params = []
    for list_filter in model_admin.list_filter:
        name = getattr(list_filter, "parameter_name", None)
        if isinstance(list_filter, str):
            name = list_filter
        elif isinstance(list_filter, tuple):
            name = list_filter[0]
        if name == "clinic" or name == "clinic__id__exact":
            params += [{"clinic": away.pk}, {"clinic__id__exact": away.pk}]
        elif name == "program":
            params += [{"program": pk} for pk in away_programs]
    return params


@pytest.mark.parametrize("role", ROLES)
def test_no_admin_page_shows_another_clinics_data(client, world, role):
    user = world["users"][role]
    away = world["away"]
    admin_login(client, user)
    away_patient = Patient.objects.filter(clinic=away).first()
    seen = []
    for model, model_admin in visible_admins(client, user):
        url = changelist_url(model_admin)
        seen.append(model._meta.label)
        queries = [{}, {"q": away_patient.last_name}, {"q": away_patient.mrn}]
        queries += filter_parameters(model_admin, away)
        for query in queries:
            response = client.get(url, query)
            assert response.status_code in (200, 302), (url, query, response.status_code)
            if response.status_code == 302:
                continue  # an unknown filter value: the admin redirects with ?e=1
            page = response.content.decode()
            if "q" in query:
                # The page repeats the search term (box, links); the other patient's first name
                # ("Strangewaya0") is what a leak would show.
                page = page.replace(query["q"], "")
            assert MARK not in page, (role, url, query)
        # The other clinic's records are not opened either.
        for obj in _away_objects(model, away)[:3]:
            response = client.get(f"{url}{obj.pk}/change/", follow=True)
            assert MARK not in response.content.decode(), (role, url, obj.pk)
    assert {
        "patients.Patient",
        "programs.Enrollment",
        "programs.Disclosure",
        "scheduling.Session",
    } <= set(seen)


def _away_objects(model, away: Clinic):
    lookups = {
        "patients.Patient": "clinic",
        "patients.Assessment": "patient__clinic",
        "patients.Consent": "patient__clinic",
        "patients.PatientContact": "patient__clinic",
        "programs.Enrollment": "program__clinic",
        "programs.Program": "clinic",
        "programs.Transition": "from_enrollment__program__clinic",
        "programs.Disclosure": "patient__clinic",
        "programs.ProgressNote": "session__clinic",
        "programs.Coverage": "clinic",
        "programs.Inquiry": "clinic",
        "programs.ReferralSource": "clinic",
        "clinic.Bed": "clinic",
        "scheduling.Series": "clinic",
        "scheduling.Session": "clinic",
        "scheduling.Reminder": "patient__clinic",
    }
    lookup = lookups.get(model._meta.label)
    if lookup is None:
        return model._default_manager.none()
    return model._default_manager.filter(**{lookup: away}).order_by("pk")


@pytest.mark.parametrize("role", ROLES)
def test_no_autocomplete_offers_another_clinics_patients(client, world, role):
    user = world["users"][role]
    admin_login(client, user)
    away_patient = Patient.objects.filter(clinic=world["away"]).first()
    home_patient = Patient.objects.filter(clinic=world["home"]).first()
    fields = [
        (model, field)
        for model, model_admin in admin.site._registry.items()
        for field in getattr(model_admin, "autocomplete_fields", ())
    ]
    assert fields, "the admin has autocompletes"
    for model, field in fields:
        opts = model._meta
        for term in (MARK, away_patient.mrn, home_patient.last_name):
            response = client.get(
                "/admin/autocomplete/",
                {
                    "app_label": opts.app_label,
                    "model_name": opts.model_name,
                    "field_name": field,
                    "term": term,
                },
            )
            if response.status_code == 403:
                continue  # the role may not use this form
            assert response.status_code == 200
            assert MARK not in response.content.decode(), (role, opts.label, field, term)


def test_supervisors_read_the_audit_trail_and_nobody_changes_it(client, world):
    supervisor = world["users"]["supervisor"]
    row = AuditEvent.objects.filter(clinic=world["home"]).first()
    assert row is not None
    url = "/admin/clinic/auditevent/"

    admin_login(client, supervisor)
    listing = client.get(url)
    assert listing.status_code == 200
    assert MARK not in listing.content.decode()
    detail = client.get(f"{url}{row.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content

    superuser = get_user_model().objects.create_superuser("root-admin", password="x-x-x-x-x-1")
    for user in (supervisor, world["users"]["admissions"], superuser):
        admin_login(client, user)
        assert client.get(f"{url}add/").status_code == 403
        assert client.post(f"{url}add/", {}).status_code == 403
        assert client.post(f"{url}{row.pk}/delete/", {"post": "yes"}).status_code in (403, 302)
        assert client.post(f"{url}{row.pk}/change/", {"action": "delete"}).status_code in (
            403,
            302,
        )
        assert client.post(
            url, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
        ).status_code in (200, 302, 403)
        assert AuditEvent.objects.filter(pk=row.pk).exists()
    admin_login(client, world["users"]["admissions"])
    assert client.get(url).status_code == 403


JUNK_VALUES = ("", "x" * 3000, "-1", "0", "9999-99-99", "<script>", "1e309", "999999999999")


@pytest.mark.parametrize("role", ROLES)
def test_no_admin_form_answers_junk_with_a_server_error(client, world, role):
    """Every add form and enrollment action page a role may open, posted empty and with junk in
    every field: a form with errors (or a refusal), never a 500 and never a half-written row."""
    user = world["users"][role]
    admin_login(client, user)
    client.raise_request_exception = False
    stay = Enrollment.objects.filter(program__clinic=world["home"], status="admitted").first()
    waiting = Enrollment.objects.filter(program__clinic=world["home"], status="waitlisted").first()
    pages = []
    for _model, model_admin in visible_admins(client, user):
        url = f"{changelist_url(model_admin)}add/"
        if client.get(url).status_code == 200:
            pages.append(url)
    for enrollment, actions in ((stay, ("discharge", "transition", "bed")), (waiting, ("admit",))):
        for action in actions:
            url = f"/admin/programs/enrollment/{enrollment.pk}/{action}/"
            if client.get(url).status_code == 200:
                pages.append(url)
    # Supervisors write nothing here; utilization review writes only the payers' side.
    assert pages or role in ("supervisor", "utilization_review", "alumni_coordinator")
    counts_before = {model: model.objects.count() for model in (Patient, Enrollment, Bed)}
    for url in pages:
        form = client.get(url).context["adminform"].form if "/add/" in url else None
        names = list(form.fields) if form is not None else ["date", "reason", "bed", "kind"]
        for junk in JUNK_VALUES:
            response = client.post(url, dict.fromkeys(names, junk))
            assert response.status_code < 500, (role, url, junk)
    if role != "supervisor":
        counts_after = {model: model.objects.count() for model in (Patient, Enrollment, Bed)}
        assert counts_after == counts_before


def test_no_raw_id_field_names_another_clinics_object(client, world):
    """A raw-id field shows the label and link of the object its id points at: for another
    clinic's id (in the query string, or posted back with a form error) it shows none, as for an
    id that does not exist; the caller's own objects keep theirs."""
    away = world["away"]
    # The other clinic's assessments get a date none of the home clinic's has, to tell labels.
    Assessment.objects.filter(patient__clinic=away).update(
        assessed_at=datetime.datetime(2001, 2, 3, 12, tzinfo=datetime.UTC)
    )
    user = world["users"]["admissions"]
    request = RequestFactory().get("/admin/")
    request.user = user
    # Of the admin pages this user can open (the two-factor devices' page is superusers').
    fields = [
        (model_admin, name)
        for model_admin in admin.site._registry.values()
        for name in model_admin.raw_id_fields
        if model_admin.has_add_permission(request)
    ]
    assert fields, "the admin has raw-id fields"
    admin_login(client, user)
    for model_admin, name in fields:
        related = model_admin.model._meta.get_field(name).related_model
        outside = _away_objects(related, away).first()
        home = related._default_manager.exclude(pk__in=_away_objects(related, away)).first()
        assert outside is not None, (model_admin, name)
        assert home is not None, (model_admin, name)
        url = f"{changelist_url(model_admin)}add/"
        link = f"/admin/{related._meta.app_label}/{related._meta.model_name}/{{}}/change/"

        shown = client.get(url, {name: home.pk}).content.decode()
        assert link.format(home.pk) in shown  # the control: one's own object is named
        assert str(home) in shown
        for page in (client.get(url, {name: outside.pk}), client.post(url, {name: outside.pk})):
            assert page.status_code == 200
            text = page.content.decode()
            assert link.format(outside.pk) not in text, (model_admin, name)
            assert str(outside) not in text, (model_admin, name)
