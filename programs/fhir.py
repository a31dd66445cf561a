"""The FHIR R4 Bundle of a disclosure under 42 CFR Part 2 (README "Disclosures in FHIR R4").

``disclosure_bundle`` turns what a disclosure sent into a JSON-ready ``document`` Bundle: a
Composition first (the §2.32 notice and the consent's scope, readable by a person), then the
clinic, the patient, one resource set per consented category and the Consent that permitted
it. Only the disclosure's categories that its consent also covers are read at all, so a withheld
category cannot leak through a forgotten field. Every resource carries the Part 2 security
labels. References are ``urn:uuid:`` full URLs derived from the disclosure and the record, so
the same disclosure always yields the same ids and every reference resolves inside the bundle.
"""

import base64
import datetime
import html
import uuid
from collections.abc import Iterable

from django.db.models import Prefetch

from patients.instruments import INSTRUMENTS
from patients.models import Assessment, Level
from programs.models import (
    NOTE_SECTIONS,
    AftercareGoal,
    AftercarePlan,
    Enrollment,
    EnrollmentStatusChange,
    MeasureResponse,
    MeasureSource,
    ProgressNote,
    ProgressNoteAddendum,
)
from programs.part2 import PART2_NOTICE
from scheduling.models import RosterEntry

# The consent's categories (patients.models.DisclosureCategory), by value.
DEMOGRAPHICS = "demographics"
ENROLLMENTS = "enrollments"
ASSESSMENTS = "assessments"
ATTENDANCE = "attendance"
AFTERCARE = "aftercare"
MEASURES = "measures"
PROGRESS_NOTES = "progress_notes"
PSYCHOTHERAPY_NOTES = "psychotherapy_notes"

# The FHIR resource types that carry each category (Consent.provision.class).
CATEGORY_RESOURCES = {
    DEMOGRAPHICS: ("Patient",),
    ENROLLMENTS: ("EpisodeOfCare",),
    ASSESSMENTS: ("Observation",),
    ATTENDANCE: ("Appointment",),
    AFTERCARE: ("CarePlan", "Goal"),
    MEASURES: ("QuestionnaireResponse", "Observation"),
    PROGRESS_NOTES: ("DocumentReference",),
    PSYCHOTHERAPY_NOTES: ("DocumentReference",),
}

V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
# Restricted, substance-use sensitivity, the policy, and "no redisclosure without consent
# directive" (NORDSCLCD: the retired NORDSLCD is what older systems send).
SECURITY_LABELS = (
    {"system": V3_CONFIDENTIALITY, "code": "R", "display": "restricted"},
    {"system": V3_ACT_CODE, "code": "ETH", "display": "substance abuse information sensitivity"},
    {"system": V3_ACT_CODE, "code": "42CFRPart2", "display": "42 CFR Part2"},
    {
        "system": V3_ACT_CODE,
        "code": "NORDSCLCD",
        "display": "no redisclosure without consent directive",
    },
)

PURPOSE_OF_USE = {
    "treatment": ("TREAT", "treatment"),
    "payment": ("HPAYMT", "healthcare payment"),
    "operations": ("HOPERAT", "healthcare operations"),
    "patient_request": ("PATRQT", "patient requested"),
}
TPO_CLASS = (
    "My treating providers, health plans, third-party payers and those helping operate this program"
)

EPISODE_STATUS = {
    "waitlisted": "waitlist",
    "admitted": "active",
    "discharged": "finished",
    "cancelled": "cancelled",
}
CARE_PLAN_STATUS = {"draft": "draft", "active": "active", "closed": "completed"}
GOAL_LIFECYCLE = {
    "open": "accepted",
    "in_progress": "active",
    "achieved": "completed",
    "dropped": "cancelled",
}
GOAL_ACHIEVEMENT = {"in_progress": "in-progress", "achieved": "achieved"}
# Attendance → Appointment.status; a rostered session without attendance is still "booked".
APPOINTMENT_STATUS = {
    "present": "fulfilled",
    "late": "fulfilled",
    "absent": "noshow",
    "excused": "cancelled",
}
# The patient's answer in the app (RosterEntry.response) → Appointment.participant.status.
PARTICIPANT_STATUS = {"none": "needs-action", "confirmed": "accepted", "declined": "declined"}
ASAM_LEVEL = {
    Level.RESIDENTIAL: "3.1–3.7",
    Level.PHP: "2.5",
    Level.IOP: "2.1",
    Level.OUTPATIENT: "1",
}
DIMENSION_NAMES = {
    "d1": "Dimension 1: intoxication / withdrawal",
    "d2": "Dimension 2: biomedical",
    "d3": "Dimension 3: emotional / behavioral / cognitive",
    "d4": "Dimension 4: readiness to change",
    "d5": "Dimension 5: relapse / continued use potential",
    "d6": "Dimension 6: recovery environment",
}

# LOINC codes of the instruments' totals where LOINC has one (the PHQ-9's, the GAD-7's and the
# AUDIT-C's); the CIWA-Ar, the COWS and the BAM go with a text-only code (Observation.code.text).
LOINC = "http://loinc.org"
MEASURE_LOINC = {"phq9": "44261-6", "gad7": "70274-6", "audit_c": "75626-2"}
SURVEY_CATEGORY = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "survey",
            }
        ]
    }
]

# LOINC document types of the notes (DocumentReference.type).
NOTE_TYPES = {
    PROGRESS_NOTES: ("11506-3", "Progress note"),
    PSYCHOTHERAPY_NOTES: ("11506-3", "Progress note (psychotherapy note kept apart)"),
}
NOTE_SECTION_TITLES = {
    "participation": "Participation",
    "response": "Response",
    "progress": "Progress toward goals",
    "plan": "Plan",
    "data": "Data",
    "assessment": "Assessment",
    "subjective": "Subjective",
    "objective": "Objective",
    "note": "Note",
}

# uuid5 namespace of the bundles' urn:uuid ids (uuid5(NAMESPACE_URL, "urn:continuum:fhir")).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:continuum:fhir")
CONTINUUM_SYSTEM = "urn:continuum"


def disclosure_bundle(disclosure) -> dict:
    """The FHIR R4 Bundle (type "document") of what ``disclosure`` sent: a JSON-ready dict.

    ``disclosure`` is duck-typed (programs.models.Disclosure or a stand-in): ``id``,
    ``patient``, ``consent``, ``categories``, ``purpose``, ``purpose_other``,
    ``recipient_name``, ``recipient_address``, ``disclosed_at``, ``window_start`` and
    ``window_end``. Reads a constant number of queries whatever the patient's history.
    """
    return _BundleBuilder(disclosure).build()


def categories_sent(disclosure) -> list[str]:
    """The categories the bundle carries: the disclosure's, as far as its consent covers them
    (the service refuses anything else; this keeps the builder from trusting that)."""
    covered = set(disclosure.consent.categories or ())
    return [c for c in CATEGORY_RESOURCES if c in disclosure.categories and c in covered]


class _BundleBuilder:
    def __init__(self, disclosure):
        self.disclosure = disclosure
        self.patient = disclosure.patient
        self.consent = disclosure.consent
        self.categories = categories_sent(disclosure)
        self.clinic = self.patient.clinic
        # The clinic's dates: the consent's active day and the attendance window.
        self.zone = self.clinic.zone
        self.entries: list[dict] = []
        self.sections: list[dict] = []

    # Ids and references -----------------------------------------------------------------------

    def uuid_for(self, kind: str, key) -> str:
        return str(uuid.uuid5(NAMESPACE, f"disclosure/{self.disclosure.uuid}/{kind}/{key}"))

    def add(self, resource_type: str, key, body: dict) -> dict:
        resource_id = self.uuid_for(resource_type, key)
        resource = {
            "resourceType": resource_type,
            "id": resource_id,
            "meta": {"security": [dict(label) for label in SECURITY_LABELS]},
            **body,
        }
        self.entries.append({"fullUrl": f"urn:uuid:{resource_id}", "resource": resource})
        return {"reference": f"urn:uuid:{resource_id}"}

    def section(self, title: str, text: str, entries: Iterable[dict] = ()) -> None:
        paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in text.split("\n"))
        section = {
            "title": title,
            "text": {
                "status": "generated",
                "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{paragraphs}</div>',
            },
        }
        entries = list(entries)
        if entries:
            section["entry"] = entries
        self.sections.append(section)

    # The bundle -------------------------------------------------------------------------------

    def build(self) -> dict:
        self.organization = self.add(
            "Organization", self.clinic.pk, {"active": True, "name": self.clinic.name}
        )
        self.subject = self.add("Patient", self.patient.pk, self.patient_body())
        self.section("Notice: 42 CFR Part 2 (§2.32)", PART2_NOTICE)
        consent_ref = self.add_consent()
        self.section("Scope of the consent (§2.32(b))", self.consent_scope(), [consent_ref])
        if DEMOGRAPHICS in self.categories:
            self.section(
                "Demographics", "The patient's identity and contact details.", [self.subject]
            )
        if ENROLLMENTS in self.categories:
            episodes = self.add_episodes()
            self.section(
                "Enrollments and levels of care", f"{len(episodes)} enrollments.", episodes
            )
        if ASSESSMENTS in self.categories:
            assessments = self.add_assessments()
            self.section("Assessments", f"{len(assessments)} assessments.", assessments)
        if ATTENDANCE in self.categories:
            appointments = self.add_appointments()
            self.section("Attendance", self.window_text(len(appointments)), appointments)
        if AFTERCARE in self.categories:
            plans = self.add_care_plans()
            self.section("Aftercare plan", "The aftercare plans and their goals.", plans)
        if MEASURES in self.categories:
            measures = self.add_measures()
            self.section(
                "Measures",
                f"{len(measures) // 2} standardized measures, each as the answers given "
                "(QuestionnaireResponse) and its score (Observation).",
                measures,
            )
        if PROGRESS_NOTES in self.categories:
            notes = self.add_progress_notes(psychotherapy=False)
            self.section("Progress notes", f"{len(notes)} signed progress notes.", notes)
        if PSYCHOTHERAPY_NOTES in self.categories:
            notes = self.add_progress_notes(psychotherapy=True)
            self.section("Psychotherapy notes", f"{len(notes)} signed psychotherapy notes.", notes)
        composition = self.composition()
        return {
            "resourceType": "Bundle",
            "id": self.uuid_for("Bundle", 0),
            "meta": {"security": [dict(label) for label in SECURITY_LABELS]},
            "identifier": {
                "system": "urn:ietf:rfc:3986",
                "value": f"urn:uuid:{self.disclosure.uuid}",
            },
            "type": "document",
            "timestamp": _instant(self.disclosure.disclosed_at),
            "entry": [composition, *self.entries],
        }

    def composition(self) -> dict:
        resource_id = self.uuid_for("Composition", 0)
        recipient = self.disclosure.recipient_name
        if self.disclosure.recipient_address:
            recipient = f"{recipient}, {self.disclosure.recipient_address}"
        return {
            "fullUrl": f"urn:uuid:{resource_id}",
            "resource": {
                "resourceType": "Composition",
                "id": resource_id,
                "meta": {"security": [dict(label) for label in SECURITY_LABELS]},
                "status": "final",
                "type": {"text": "Disclosure of records under 42 CFR Part 2"},
                "subject": self.subject,
                "date": _instant(self.disclosure.disclosed_at),
                "author": [self.organization],
                "title": f"Records disclosed to {recipient}",
                "confidentiality": "R",
                "custodian": self.organization,
                "section": self.sections,
            },
        }

    # Resources --------------------------------------------------------------------------------

    def patient_body(self) -> dict:
        # FHIR needs a subject; without demographics the Patient is an id and nothing more.
        if DEMOGRAPHICS not in self.categories:
            return {}
        patient = self.patient
        telecom = []
        if patient.phone:
            telecom.append({"system": "phone", "value": str(patient.phone)})
        if patient.email:
            telecom.append({"system": "email", "value": patient.email})
        body = {
            "identifier": [
                {
                    "type": {"text": "Medical record number"},
                    "system": f"{CONTINUUM_SYSTEM}:clinic:{patient.clinic_id}:mrn",
                    "value": patient.mrn,
                }
            ],
            "name": [{"family": patient.last_name, "given": [patient.first_name]}],
            "birthDate": patient.date_of_birth.isoformat(),
            "managingOrganization": self.organization,
        }
        if telecom:
            body["telecom"] = telecom
        return body

    def add_consent(self) -> dict:
        consent = self.consent
        on = self.disclosure.disclosed_at.astimezone(self.zone).date()
        provision = {
            "type": "permit",
            "period": _period(consent.signed_on, consent.expires_on),
            "actor": self.consent_actors(),
            "purpose": self.consent_purposes(),
            "class": [
                {"system": "http://hl7.org/fhir/resource-types", "code": resource_type}
                for resource_type in dict.fromkeys(
                    resource_type
                    for category in consent.categories or ()
                    for resource_type in CATEGORY_RESOURCES.get(category, ())
                )
            ],
        }
        # FHIR JSON has no empty arrays: an element without values is left out.
        provision = {key: value for key, value in provision.items() if value != []}
        performer = self.subject
        if consent.signer_relation:
            performer = self.add(
                "RelatedPerson",
                f"consent-{consent.pk}",
                {
                    "patient": self.subject,
                    "relationship": [{"text": consent.signer_relation}],
                    "name": [{"text": consent.signer_name}],
                },
            )
        return self.add(
            "Consent",
            consent.pk,
            {
                # What the consent was when it permitted this disclosure.
                "status": "active" if consent.is_active_on(on) else "inactive",
                "scope": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                            "code": "patient-privacy",
                        }
                    ]
                },
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://loinc.org",
                                "code": "59284-0",
                                "display": "Consent Document",
                            }
                        ]
                    }
                ],
                "patient": self.subject,
                "dateTime": _date(consent.signed_on),
                "performer": [performer],
                "organization": [self.organization],
                "policy": [{"authority": "https://www.ecfr.gov/current/title-42/part-2"}],
                "policyRule": {"coding": [{"system": V3_ACT_CODE, "code": "42CFRPart2"}]},
                "provision": provision,
            },
        )

    def consent_actors(self) -> list[dict]:
        recipient_role = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                    "code": "IRCP",
                    "display": "information recipient",
                }
            ]
        }
        names = list(self.consent.recipient_names or ())
        if self.consent.recipients_tpo:
            names.append(TPO_CLASS)
        return [{"role": recipient_role, "reference": {"display": name}} for name in names]

    def consent_purposes(self) -> list[dict]:
        purposes = []
        for purpose in self.consent.purposes or ():
            if purpose in PURPOSE_OF_USE:
                code, display = PURPOSE_OF_USE[purpose]
                purposes.append({"system": V3_ACT_REASON, "code": code, "display": display})
            else:
                purposes.append({"display": self.consent.purpose_other or "Other"})
        return purposes

    def consent_scope(self) -> str:
        consent = self.consent
        recipients = [*(consent.recipient_names or ())]
        if consent.recipients_tpo:
            recipients.append(TPO_CLASS)
        purposes = [self.purpose_text(p, consent.purpose_other) for p in consent.purposes or ()]
        if consent.expires_on:
            expiry = f"on {consent.expires_on.isoformat()}"
        elif consent.expiry_event:
            expiry = f"on {consent.expiry_event.replace('_', ' ')}"
        else:
            expiry = "never (a consent for treatment, payment and health-care operations)"
        signer = "the patient"
        if consent.signer_relation:
            signer = f"{consent.signer_name} ({consent.signer_relation})"
        lines = [
            f"Signed on {consent.signed_on.isoformat()} by {signer}.",
            f"Recipients: {'; '.join(recipients)}.",
            f"Purposes: {'; '.join(purposes)}.",
            f"Information: {'; '.join(c.replace('_', ' ') for c in consent.categories or ())}.",
            f"Expires {expiry}.",
            f"Right to revoke: {consent.revocation_how}",
            f"This disclosure: {'; '.join(self.categories) or 'no records'}, "
            f"for {self.purpose_text(self.disclosure.purpose, self.disclosure.purpose_other)}.",
        ]
        return "\n".join(lines)

    @staticmethod
    def purpose_text(purpose: str, other: str) -> str:
        return (other or "other") if purpose == "other" else purpose.replace("_", " ")

    def window_text(self, count: int) -> str:
        start, end = self.disclosure.window_start, self.disclosure.window_end
        return (
            f"{count} sessions from {start.isoformat() if start else 'the first'} "
            f"to {end.isoformat() if end else 'the last'}."
        )

    def add_episodes(self) -> list[dict]:
        enrollments = Enrollment.objects.filter(patient=self.patient).select_related("program")
        enrollments = enrollments.prefetch_related(
            Prefetch(
                "status_changes",
                queryset=EnrollmentStatusChange.objects.order_by("changed_at", "id"),
            )
        )
        refs = []
        for enrollment in enrollments.order_by("start_date", "id"):
            changes = list(enrollment.status_changes.all())
            history = [
                {
                    "status": EPISODE_STATUS[change.to_status],
                    "period": _period(
                        change.effective_date,
                        changes[n + 1].effective_date if n + 1 < len(changes) else None,
                    ),
                }
                for n, change in enumerate(changes)
            ]
            program = enrollment.program
            level = Level(enrollment.level)
            body = {
                "status": EPISODE_STATUS[enrollment.status],
                "type": [
                    {
                        "coding": [
                            {
                                "system": f"{CONTINUUM_SYSTEM}:level-of-care",
                                "code": level.value,
                                "display": level.label,
                            }
                        ],
                        "text": f"{level.label} (ASAM {ASAM_LEVEL[level]})",
                    },
                    {"text": program.name},
                ],
                "patient": self.subject,
                "managingOrganization": self.organization,
            }
            if history:
                body["statusHistory"] = history
            if enrollment.status in ("admitted", "discharged"):
                body["period"] = _period(enrollment.start_date, enrollment.discharge_date)
            refs.append(self.add("EpisodeOfCare", enrollment.pk, body))
        return refs

    def add_assessments(self) -> list[dict]:
        refs = []
        for assessment in Assessment.objects.filter(patient=self.patient).order_by(
            "assessed_at", "id"
        ):
            components = [
                {"code": {"text": DIMENSION_NAMES[name]}, "valueInteger": value}
                for name, value in assessment.dimensions.items()
            ]
            components.append(
                {
                    "code": {"text": "DSM-5 substance use disorder severity"},
                    "valueString": assessment.get_severity_display(),
                }
            )
            components.append(
                {
                    "code": {"text": "Level of care (clinician's decision, else recommended)"},
                    "valueString": Level(assessment.level).label,
                }
            )
            body = {
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/"
                                "observation-category",
                                "code": "survey",
                            }
                        ]
                    }
                ],
                "code": {"text": "ASAM Criteria multidimensional assessment (ratings 0–4)"},
                "subject": self.subject,
                "effectiveDateTime": _instant(assessment.assessed_at),
                "component": components,
            }
            refs.append(self.add("Observation", assessment.pk, body))
        return refs

    def add_measures(self) -> list[dict]:
        """Each of the patient's measures (``MeasureResponse``) as a QuestionnaireResponse of
        its items and answers, and an Observation of its score (the total, coded in LOINC where
        it has a code; the BAM's three subscales as components) derived from it."""
        refs = []
        for response in MeasureResponse.objects.filter(patient=self.patient).order_by(
            "completed_at", "id"
        ):
            instrument = INSTRUMENTS[response.instrument]
            items = []
            for item in instrument.items:
                if item.key not in response.answers:
                    continue
                value = response.answers[item.key]
                label = next((o.label for o in item.options if o.value == value), str(value))
                items.append(
                    {
                        "linkId": item.key,
                        "text": item.text,
                        "answer": [{"valueCoding": {"code": str(value), "display": label}}],
                    }
                )
            answers = {
                "status": "completed",
                "subject": self.subject,
                "authored": _instant(response.completed_at),
            }
            if response.source == MeasureSource.PATIENT:
                answers["source"] = self.subject
            if items:
                answers["item"] = items
            answers_ref = self.add("QuestionnaireResponse", response.pk, answers)
            refs.append(answers_ref)
            code = {"text": f"{instrument.name} ({instrument.short_name})"}
            if response.instrument in MEASURE_LOINC:
                code["coding"] = [{"system": LOINC, "code": MEASURE_LOINC[response.instrument]}]
            score = {
                "status": "final",
                "category": SURVEY_CATEGORY,
                "code": code,
                "subject": self.subject,
                "effectiveDateTime": _instant(response.completed_at),
                "derivedFrom": [answers_ref],
            }
            if response.total is not None:
                score["valueInteger"] = response.total
            band = next((b for b in instrument.bands if b.key == response.band), None)
            if band is not None:
                score["interpretation"] = [{"text": band.label}]
            if response.subscales:
                score["component"] = [
                    {"code": {"text": f"{instrument.short_name} {name}"}, "valueInteger": value}
                    for name, value in response.subscales.items()
                ]
            # The assessments' Observations are keyed by their own ids: a prefix keeps apart.
            refs.append(self.add("Observation", f"measure-{response.pk}", score))
        return refs

    def add_appointments(self) -> list[dict]:
        entries = RosterEntry.objects.filter(patient=self.patient).select_related(
            "session", "attendance"
        )
        start, end = self.disclosure.window_start, self.disclosure.window_end
        # The window is in the clinic's dates: from the first day's local midnight to the
        # midnight after the last day.
        if start:
            entries = entries.filter(session__starts_at__gte=_midnight(start, self.zone))
        if end:
            entries = entries.filter(
                session__starts_at__lt=_midnight(end + datetime.timedelta(days=1), self.zone)
            )
        refs = []
        for entry in entries.order_by("session__starts_at", "id"):
            session = entry.session
            attendance = getattr(entry, "attendance", None)
            if session.status == "cancelled":
                status = "cancelled"
            elif attendance is not None:
                status = APPOINTMENT_STATUS[attendance.status]
            else:
                status = "booked"
            body = {
                "status": status,
                "serviceType": [{"text": session.get_kind_display()}],
                "description": session.title,
                "start": _instant(session.starts_at),
                "end": _instant(session.ends_at),
                "participant": [
                    {"actor": self.subject, "status": PARTICIPANT_STATUS[entry.response]}
                ],
            }
            refs.append(self.add("Appointment", entry.pk, body))
        return refs

    def add_progress_notes(self, *, psychotherapy: bool) -> list[dict]:
        """The patient's finished notes of sessions in the window, each a DocumentReference
        whose attachment is the note's text: the group's part (which names no patient), the
        patient's own sections and the signed addenda. Drafts and notes still awaiting a
        co-signature are not finished and never go; psychotherapy notes go only under their own
        category (42 CFR 2.31(b)), progress notes never carry them."""
        notes = (
            ProgressNote.objects.filter(
                patient=self.patient, psychotherapy_note=psychotherapy, signed_at__isnull=False
            )
            .exclude(cosignature_required=True, cosigned_at__isnull=True)
            .select_related("session", "group_note", "author", "cosigned_by")
            .prefetch_related(
                Prefetch(
                    "addenda",
                    queryset=ProgressNoteAddendum.objects.select_related("author").order_by(
                        "signed_at", "id"
                    ),
                )
            )
        )
        start, end = self.disclosure.window_start, self.disclosure.window_end
        if start:
            notes = notes.filter(session__starts_at__gte=_midnight(start, self.zone))
        if end:
            notes = notes.filter(
                session__starts_at__lt=_midnight(end + datetime.timedelta(days=1), self.zone)
            )
        code, display = NOTE_TYPES[PSYCHOTHERAPY_NOTES if psychotherapy else PROGRESS_NOTES]
        refs = []
        for note in notes.order_by("session__starts_at", "id"):
            session = note.session
            text = note_text(note)
            session_day = session.starts_at.astimezone(self.zone).date()
            authors = [{"display": _person(note.author)}]
            if note.cosigned_by is not None:
                authors.append({"display": f"{_person(note.cosigned_by)} (co-signature)"})
            body = {
                "status": "current",
                "docStatus": "amended" if note.addenda.all() else "final",
                "type": {
                    "coding": [{"system": LOINC, "code": code, "display": "Progress note"}],
                    "text": display,
                },
                "category": [{"text": note.get_format_display()}],
                "subject": self.subject,
                "date": _instant(note.signed_at),
                "author": authors,
                "custodian": self.organization,
                "description": f"{note.get_format_display()}: {session.get_kind_display()}",
                "content": [
                    {
                        "attachment": {
                            "contentType": "text/plain; charset=utf-8",
                            "language": "en",
                            "data": base64.b64encode(text.encode()).decode("ascii"),
                            "title": f"{display} of {_date(session_day)}",
                        }
                    }
                ],
                "context": {
                    "period": {
                        "start": _instant(session.starts_at),
                        "end": _instant(session.ends_at),
                    }
                },
            }
            refs.append(self.add("DocumentReference", note.pk, body))
        return refs

    def add_care_plans(self) -> list[dict]:
        plans = AftercarePlan.objects.filter(patient=self.patient).prefetch_related(
            Prefetch("goals", queryset=AftercareGoal.objects.order_by("id")), "items"
        )
        refs = []
        for plan in plans.order_by("created_at", "id"):
            goal_refs = [
                self.add("Goal", goal.pk, self.goal_body(goal)) for goal in plan.goals.all()
            ]
            body = {
                "status": CARE_PLAN_STATUS[plan.status],
                "intent": "plan",
                "category": [{"text": "Aftercare plan"}],
                "title": "Aftercare plan",
                "subject": self.subject,
                "created": _instant(plan.created_at),
                "author": self.organization,
            }
            notes = [
                f"{label}: {text}"
                for label, text in (
                    ("Medication continuation", plan.medication_continuation),
                    ("Sober living", plan.sober_living),
                    ("Notes", plan.notes),
                )
                if text
            ]
            if notes:
                body["note"] = [{"text": note} for note in notes]
            if goal_refs:
                body["goal"] = goal_refs
            activities = [
                {
                    "detail": {
                        "kind": "Appointment" if item.scheduled_for else None,
                        "description": f"{item.get_kind_display()}: {item.text}",
                        "status": "scheduled" if item.scheduled_for else "unknown",
                        **(
                            {"scheduledString": _instant(item.scheduled_for)}
                            if item.scheduled_for
                            else {}
                        ),
                    }
                }
                for item in plan.items.all()
            ]
            for activity in activities:
                if activity["detail"]["kind"] is None:
                    del activity["detail"]["kind"]
            if activities:
                body["activity"] = activities
            refs.append(self.add("CarePlan", plan.pk, body))
            refs.extend(goal_refs)
        return refs

    def goal_body(self, goal) -> dict:
        body = {
            "lifecycleStatus": GOAL_LIFECYCLE[goal.status],
            "description": {"text": goal.description},
            "subject": self.subject,
        }
        if goal.status in GOAL_ACHIEVEMENT:
            body["achievementStatus"] = {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/goal-achievement",
                        "code": GOAL_ACHIEVEMENT[goal.status],
                    }
                ]
            }
        if goal.target_date:
            body["target"] = [{"dueDate": goal.target_date.isoformat()}]
        return body


def note_text(note) -> str:
    """A note as plain text: the group's part (topic, interventions, dynamics; never a name),
    the patient's sections in the format's order and the signed addenda."""
    lines = []
    group = note.group_note
    if group is not None:
        lines += [f"Group topic: {group.topic}", f"Interventions: {group.interventions}"]
        if group.group_dynamics:
            lines.append(f"Group dynamics: {group.group_dynamics}")
    for key in NOTE_SECTIONS[note.format]:
        if (note.sections or {}).get(key):
            lines.append(f"{NOTE_SECTION_TITLES[key]}: {note.sections[key]}")
    lines.append(f"Signed {_instant(note.signed_at)} by {_person(note.author)}.")
    if note.cosigned_at is not None:
        lines.append(f"Co-signed {_instant(note.cosigned_at)} by {_person(note.cosigned_by)}.")
    for addendum in note.addenda.all():
        lines.append(
            f"Addendum, signed {_instant(addendum.signed_at)} by {_person(addendum.author)}: "
            f"{addendum.text}"
        )
    return "\n".join(lines)


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


def _instant(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _date(day: datetime.date | None) -> str | None:
    return day.isoformat() if day else None


def _period(start: datetime.date | None, end: datetime.date | None) -> dict:
    return {key: value.isoformat() for key, value in (("start", start), ("end", end)) if value}


def _midnight(day: datetime.date, zone) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=zone)
