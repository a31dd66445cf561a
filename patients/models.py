"""Patients, their contacts and Part 2 consents, and assessments with the level-of-care
recommendation (DOMAIN.md)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone
from phonenumber_field.modelfields import PhoneNumberField

from clinic.models import record_version_field


class ReminderChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"
    PUSH = "push", "Push notification"


class ScreeningSex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"


class Patient(models.Model):
    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="patients")
    # Generated per clinic from MrnCounter; never reused, never edited.
    mrn = models.CharField("MRN", max_length=20, editable=False)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    # Only for screening instruments with sex-specific cut-offs (AUDIT-C); unknown takes the
    # cautious cut-off.
    screening_sex = models.CharField(
        max_length=8,
        choices=ScreeningSex.choices,
        blank=True,
        help_text="Sex as recorded for screening cut-offs (AUDIT-C); empty: unknown.",
    )
    email = models.EmailField(blank=True)
    phone = PhoneNumberField(blank=True, help_text="Stored in E.164, e.g. +12025550143.")
    reminder_channels = ArrayField(
        models.CharField(max_length=8, choices=ReminderChannel.choices),
        default=list,
        blank=True,
        help_text="The channels the patient agreed to be reminded on (empty: no reminders).",
    )
    reminder_channels_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reminder_channels_recorded_at = models.DateTimeField(null=True, blank=True)
    # When a STOP texted from ``phone`` took SMS away, as long as that is the last change of the
    # channels and the number: only then does a START give SMS back (a carrier re-subscribes the
    # number that sent STOP; it must not override staff, nor a patient who never chose SMS).
    sms_opted_out_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The patient's own app account (activation arrives with the patient app).
    app_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    version = record_version_field()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["clinic", "last_name", "first_name"], name="patient_clinic_name"),
            models.Index(fields=["clinic", "date_of_birth"], name="patient_clinic_dob"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "mrn"],
                name="patient_mrn_unique_per_clinic",
                violation_error_code="mrn_taken",
                violation_error_message="This medical record number is already in use.",
            ),
            models.CheckConstraint(
                condition=Q(screening_sex__in=["", "female", "male"]),
                name="patient_screening_sex_known",
                violation_error_message="Sex for screening is female, male or unknown.",
            ),
            models.CheckConstraint(
                condition=Q(reminder_channels__contained_by=ReminderChannel.values),
                name="patient_reminder_channels_known",
                violation_error_code="unknown_channel",
                violation_error_message="Reminder channels are email, sms and push.",
            ),
            models.CheckConstraint(
                condition=~Q(reminder_channels__contains=["sms"]) | ~Q(phone=""),
                name="patient_sms_needs_phone",
                violation_error_code="sms_needs_phone",
                violation_error_message="SMS reminders need a phone number.",
            ),
            models.CheckConstraint(
                condition=~Q(reminder_channels__contains=["email"]) | ~Q(email=""),
                name="patient_email_needs_email",
                violation_error_code="email_needs_email",
                violation_error_message="E-mail reminders need an e-mail address.",
            ),
            models.CheckConstraint(
                condition=Q(sms_opted_out_at__isnull=True)
                | ~Q(reminder_channels__contains=["sms"]),
                name="patient_sms_opt_out_without_sms",
                violation_error_code="sms_opted_out",
                violation_error_message="A patient who texted STOP has no SMS reminders.",
            ),
        ]

    def __str__(self):
        return f"{self.display_name} ({self.mrn})"

    @property
    def display_name(self) -> str:
        """ "Last, First": how boards and lists name a patient to staff."""
        return f"{self.last_name}, {self.first_name}"


class MrnCounter(models.Model):
    """The last medical record number handed out per clinic; only ever incremented."""

    clinic = models.OneToOneField("clinic.Clinic", on_delete=models.PROTECT, primary_key=True)
    last_value = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.clinic_id}: {self.last_value}"


class ContactKind(models.TextChoices):
    EMERGENCY = "emergency", "Emergency contact"
    SUPPORT = "support", "Support person"


class PatientContact(models.Model):
    """An emergency contact or a support person (family, sponsor) of the patient."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(max_length=16, choices=ContactKind.choices)
    name = models.CharField(max_length=200)
    relationship = models.CharField(max_length=100, blank=True)
    phone = PhoneNumberField(blank=True)
    email = models.EmailField(blank=True)
    version = record_version_field()

    class Meta:
        ordering = ["kind", "name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(phone="") | ~Q(email=""),
                name="contact_reachable",
                violation_error_code="contact_unreachable",
                violation_error_message="A contact needs a phone number or an e-mail address.",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"


class DisclosureCategory(models.TextChoices):
    """What a consent lets the clinic disclose (§2.31(a)(3)'s "specific description")."""

    DEMOGRAPHICS = "demographics", "Demographics"
    ENROLLMENTS = "enrollments", "Enrollments and levels of care"
    ASSESSMENTS = "assessments", "Assessments"
    ATTENDANCE = "attendance", "Attendance"
    AFTERCARE = "aftercare", "Aftercare plan"
    MEASURES = "measures", "Measures"
    # Issue 26: progress notes, and the psychotherapy notes kept apart from the record, which
    # the 2024 rule lets a consent name only on their own (42 CFR 2.31(b)).
    PROGRESS_NOTES = "progress_notes", "Progress notes"
    PSYCHOTHERAPY_NOTES = "psychotherapy_notes", "Psychotherapy notes"


class DisclosurePurpose(models.TextChoices):
    TREATMENT = "treatment", "Treatment"
    PAYMENT = "payment", "Payment"
    OPERATIONS = "operations", "Health-care operations"
    PATIENT_REQUEST = "patient_request", "At the patient's request"
    OTHER = "other", "Other"


TPO_PURPOSES = frozenset(
    {DisclosurePurpose.TREATMENT, DisclosurePurpose.PAYMENT, DisclosurePurpose.OPERATIONS}
)
# The expiry event the services recognise; any other event is text a person applies.
END_OF_TREATMENT = "end_of_treatment"
ADULT_AGE = 18

PSYCHOTHERAPY_NOTES_ALONE = (
    "A consent to disclose psychotherapy notes names no other category (42 CFR 2.31(b))."
)

# The §2.31 elements a consent must hold, keyed by the field a person fills in to supply it.
CONSENT_ELEMENTS = {
    "recipient_names": "Name the recipients, or choose the treatment, payment and operations "
    "class.",
    "purposes": "Choose at least one purpose of the disclosure.",
    "purpose_other": "Describe the other purpose.",
    "categories": "Choose the kinds of information that may be disclosed.",
    "revocation_how": "Say how the patient may revoke this consent.",
    "expires_on": "Give an expiry date or an expiry event (42 CFR §2.31).",
    "signer_relation": "A minor's consent needs the signature of a parent, guardian or other "
    "representative.",
    "signer_name": "Give the name of the representative who signed.",
    "treatment_conditioned": "Say whether treatment was conditioned on this consent.",
}


def _normalised(name: str) -> str:
    return " ".join(name.split()).casefold()


class Consent(models.Model):
    """A written consent to disclose (42 CFR Part 2 §2.31, as amended in 2024). Disclosures
    (programs) are refused unless an active, complete consent covers them; a consent recorded
    before the elements existed migrates with them empty and so permits nothing."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="consents")
    discloser = models.CharField(
        max_length=200, help_text="Who may disclose: the program or clinic named on the form."
    )
    # A program of the patient's clinic, named by the consent; empty: the whole clinic. A plain
    # id because patients may not depend on programs: the programs service checks it.
    discloser_program_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="The program that may disclose (empty: the clinic)."
    )
    # The form's own words, kept beside the structured elements below, which alone decide what
    # the consent permits.
    information = models.TextField(blank=True, help_text="How much and what kind of information.")
    recipients = models.TextField(
        blank=True, help_text="The persons or organisations it may go to."
    )
    purpose = models.TextField(blank=True)
    recipients_tpo = models.BooleanField(
        "treatment, payment and operations recipients",
        default=False,
        help_text="My treating providers, health plans, third-party payers and those helping "
        "operate this program.",
    )
    recipient_names = ArrayField(
        models.CharField(max_length=200),
        default=list,
        blank=True,
        help_text="Named organisations or people the records may go to.",
    )
    purposes = ArrayField(
        models.CharField(max_length=16, choices=DisclosurePurpose.choices),
        default=list,
        blank=True,
    )
    purpose_other = models.TextField(blank=True, help_text="The purpose, when it is 'other'.")
    categories = ArrayField(
        models.CharField(max_length=24, choices=DisclosureCategory.choices),
        default=list,
        blank=True,
        help_text="The kinds of information that may be disclosed.",
    )
    revocation_how = models.TextField(
        blank=True, help_text="The right to revoke and how, as told to the patient."
    )
    expires_on = models.DateField(null=True, blank=True)
    expiry_event = models.CharField(
        max_length=200,
        blank=True,
        help_text=f"An event or condition on which it expires ('{END_OF_TREATMENT}' is applied "
        "by the clinic's services).",
    )
    no_expiry = models.BooleanField(
        default=False, help_text="No expiry: allowed only for a treatment/payment/operations one."
    )
    signer_relation = models.CharField(
        max_length=100,
        blank=True,
        help_text="Empty when the patient signed; else the representative's relation.",
    )
    signer_name = models.CharField(max_length=200, blank=True)
    signed_on = models.DateField()
    treatment_conditioned = models.BooleanField(
        null=True, blank=True, help_text="Whether treatment was conditioned on this consent."
    )
    revoked_on = models.DateField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        ordering = ["-signed_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=False) | ~Q(expiry_event="") | Q(no_expiry=True),
                name="consent_has_expiry",
                violation_error_code="consent_needs_expiry",
                violation_error_message="A consent needs an expiry date or an expiry event.",
            ),
            models.CheckConstraint(
                condition=Q(no_expiry=False) | Q(recipients_tpo=True),
                name="consent_no_expiry_only_tpo",
                violation_error_code="consent_needs_expiry",
                violation_error_message="Only a treatment, payment and operations consent may "
                "have no expiry.",
            ),
            models.CheckConstraint(
                condition=Q(no_expiry=False) | Q(expires_on__isnull=True, expiry_event=""),
                name="consent_no_expiry_alone",
                violation_error_code="consent_expiry_ambiguous",
                violation_error_message="A consent without expiry has no expiry date or event.",
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=F("signed_on")),
                name="consent_expires_after_signing",
                violation_error_message="A consent cannot expire before it is signed.",
            ),
            models.CheckConstraint(
                condition=Q(revoked_on__isnull=True) | Q(revoked_on__gte=F("signed_on")),
                name="consent_revoked_after_signing",
                violation_error_message="A consent cannot be revoked before it is signed.",
            ),
            models.CheckConstraint(
                condition=Q(purposes__contained_by=DisclosurePurpose.values),
                name="consent_purposes_known",
                violation_error_code="unknown_purpose",
                violation_error_message="Unknown purpose of disclosure.",
            ),
            models.CheckConstraint(
                condition=Q(categories__contained_by=DisclosureCategory.values),
                name="consent_categories_known",
                violation_error_code="unknown_category",
                violation_error_message="Unknown category of information.",
            ),
            models.CheckConstraint(
                condition=~Q(purposes__contains=[DisclosurePurpose.OTHER]) | ~Q(purpose_other=""),
                name="consent_other_purpose_described",
                violation_error_code="purpose_other_missing",
                violation_error_message="Describe the other purpose.",
            ),
            models.CheckConstraint(
                condition=Q(signer_relation="") | ~Q(signer_name=""),
                name="consent_representative_named",
                violation_error_code="signer_name_missing",
                violation_error_message="Give the name of the representative who signed.",
            ),
            # 42 CFR 2.31(b) (2024): a consent to disclose SUD counseling (psychotherapy) notes
            # may be combined only with another consent to disclose such notes.
            models.CheckConstraint(
                condition=~Q(categories__contains=[DisclosureCategory.PSYCHOTHERAPY_NOTES])
                | Q(categories__contained_by=[DisclosureCategory.PSYCHOTHERAPY_NOTES]),
                name="consent_psychotherapy_notes_alone",
                violation_error_code="psychotherapy_notes_combined",
                violation_error_message=PSYCHOTHERAPY_NOTES_ALONE,
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_on__isnull=False),
                name="consent_revoked_at_has_date",
                violation_error_message="A recorded revocation has its date.",
            ),
        ]

    def __str__(self):
        return f"Consent of {self.signed_on} to {self.recipients_display()[:40]}"

    def recipients_display(self) -> str:
        names = list(self.recipient_names)
        if self.recipients_tpo:
            names.insert(0, "treating providers, health plans, payers and program operations")
        return "; ".join(names) or self.recipients

    def expires_at_end_of_treatment(self) -> bool:
        return _normalised(self.expiry_event).replace(" ", "_") == END_OF_TREATMENT

    def is_active_on(self, day, *, in_treatment: bool = True) -> bool:
        """Signed, not revoked, not expired on ``day`` (the clinic's date); an end-of-treatment
        consent also needs the patient still in treatment, which the caller knows."""
        if day < self.signed_on:
            return False
        if self.revoked_on is not None and self.revoked_on <= day:
            return False
        if self.expires_at_end_of_treatment() and not in_treatment:
            return False
        return self.expires_on is None or day <= self.expires_on

    def is_minor_signature(self) -> bool:
        born = self.patient.date_of_birth
        signed = self.signed_on
        age = signed.year - born.year - ((signed.month, signed.day) < (born.month, born.day))
        return age < ADULT_AGE

    def missing_elements(self) -> list[str]:
        """The §2.31 elements this consent lacks (keys of ``CONSENT_ELEMENTS``); empty when
        complete. Only a complete consent permits a disclosure."""
        missing = []
        if not self.recipients_tpo and not any(n.strip() for n in self.recipient_names):
            missing.append("recipient_names")
        if not self.purposes:
            missing.append("purposes")
        elif DisclosurePurpose.OTHER in self.purposes and not self.purpose_other.strip():
            missing.append("purpose_other")
        if not self.categories:
            missing.append("categories")
        if not self.revocation_how.strip():
            missing.append("revocation_how")
        has_expiry = self.expires_on is not None or bool(self.expiry_event.strip())
        if not has_expiry and not (self.no_expiry and self.recipients_tpo):
            missing.append("expires_on")
        if not self.signer_relation.strip() and self.is_minor_signature():
            missing.append("signer_relation")
        if self.signer_relation.strip() and not self.signer_name.strip():
            missing.append("signer_name")
        if self.treatment_conditioned is None:
            missing.append("treatment_conditioned")
        return missing

    def covers(
        self, *, recipient: str, purpose: str, categories, on, in_treatment: bool = True
    ) -> list[str]:
        """What this consent does not permit of a disclosure to ``recipient`` for ``purpose``
        of ``categories`` on the clinic's date ``on``, one sentence each; empty: covered."""
        problems = [f"incomplete: {CONSENT_ELEMENTS[e]}" for e in self.missing_elements()]
        if self.revoked_on is not None and self.revoked_on <= on:
            problems.append(f"revoked on {self.revoked_on}")
        elif not self.is_active_on(on, in_treatment=in_treatment):
            if on < self.signed_on:
                problems.append(f"not signed until {self.signed_on}")
            elif self.expires_on is not None and on > self.expires_on:
                problems.append(f"expired on {self.expires_on}")
            else:
                problems.append("expired at the end of treatment")
        named = {_normalised(n) for n in self.recipient_names}
        tpo = self.recipients_tpo and purpose in TPO_PURPOSES
        if _normalised(recipient) not in named and not tpo:
            problems.append(f"recipient not named: {recipient}")
        if purpose not in self.purposes:
            problems.append(f"purpose not listed: {purpose}")
        for category in categories:
            if category not in self.categories:
                problems.append(f"category not covered: {category}")
        return problems


class Severity(models.TextChoices):
    """SUD severity (DSM-5), ordered from least to most severe."""

    NONE = "none", "No disorder (0–1 criteria)"
    MILD = "mild", "Mild (2–3 criteria)"
    MODERATE = "moderate", "Moderate (4–5 criteria)"
    SEVERE = "severe", "Severe (6 or more criteria)"


class Level(models.TextChoices):
    """Levels of care, ordered from most to least intensive."""

    RESIDENTIAL = "residential", "Residential"
    PHP = "php", "Partial hospitalization"
    IOP = "iop", "Intensive outpatient"
    OUTPATIENT = "outpatient", "Outpatient"


class Track(models.TextChoices):
    DAY = "day", "Day"
    EVENING = "evening", "Evening"


class CoOccurring(models.TextChoices):
    DEPRESSION = "depression", "Depression"
    ANXIETY = "anxiety", "Anxiety"
    PTSD = "ptsd", "PTSD"
    BIPOLAR = "bipolar", "Bipolar disorder"
    OTHER = "other", "Other psychological disorder"


DIMENSIONS = ("d1", "d2", "d3", "d4", "d5", "d6")


def _rating_field(label: str):
    return models.PositiveSmallIntegerField(label, help_text="0 (no risk) to 4 (severe).")


class Assessment(models.Model):
    """One assessment of a patient; a reassessment is a new row, so history is kept.

    The recommendation is computed once, when the assessment is recorded, by
    ``patients.recommendation.recommend`` and stored, so a later change of the rule never
    rewrites what the clinician saw. The decision is the clinician's.
    """

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="assessments")
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assessed_at = models.DateTimeField()
    criteria_count = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="DSM-5 criteria met (0–11); derives the severity."
    )
    severity = models.CharField(max_length=10, choices=Severity.choices)
    d1 = _rating_field("Dimension 1: intoxication / withdrawal")
    d2 = _rating_field("Dimension 2: biomedical")
    d3 = _rating_field("Dimension 3: emotional / behavioral / cognitive")
    d4 = _rating_field("Dimension 4: readiness to change")
    d5 = _rating_field("Dimension 5: relapse / continued use potential")
    d6 = _rating_field("Dimension 6: recovery environment")
    prior_outpatient_relapse = models.BooleanField(
        default=False, help_text="Relapsed after earlier outpatient treatment."
    )
    daytime_obligations = models.BooleanField(
        default=False, help_text="Work, school or family obligations during the day."
    )
    co_occurring = ArrayField(
        models.CharField(max_length=16, choices=CoOccurring.choices), default=list, blank=True
    )
    notes = models.TextField(blank=True)

    recommended_level = models.CharField(max_length=12, choices=Level.choices, editable=False)
    recommended_track = models.CharField(
        max_length=8, choices=Track.choices, blank=True, editable=False
    )
    rationale = ArrayField(models.TextField(), default=list, editable=False)

    decided_level = models.CharField(max_length=12, choices=Level.choices, blank=True)
    decided_track = models.CharField(max_length=8, choices=Track.choices, blank=True)
    override_reason = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    version = record_version_field()
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        ordering = ["-assessed_at", "-id"]
        indexes = [models.Index(fields=["patient", "-assessed_at"], name="assessment_latest")]
        constraints = [
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__lte": 4}),
                    name=f"assessment_{name}_0_to_4",
                    violation_error_message="Dimension ratings go from 0 to 4.",
                )
                for name in DIMENSIONS
            ),
            models.CheckConstraint(
                condition=Q(criteria_count__isnull=True) | Q(criteria_count__lte=11),
                name="assessment_criteria_0_to_11",
                violation_error_message="DSM-5 has 11 criteria.",
            ),
            models.CheckConstraint(
                condition=Q(co_occurring__contained_by=CoOccurring.values),
                name="assessment_co_occurring_known",
                violation_error_message="Unknown co-occurring condition.",
            ),
            models.CheckConstraint(
                condition=Q(decided_level="")
                | Q(decided_level=F("recommended_level"))
                | ~Q(override_reason=""),
                name="assessment_override_needs_reason",
                violation_error_code="override_reason_required",
                violation_error_message="A decision that differs from the recommendation "
                "needs a reason.",
            ),
            models.CheckConstraint(
                condition=(
                    Q(decided_level="") & Q(decided_by__isnull=True) & Q(decided_at__isnull=True)
                )
                | (
                    ~Q(decided_level="") & Q(decided_by__isnull=False) & Q(decided_at__isnull=False)
                ),
                name="assessment_decision_complete",
                violation_error_message="A decision names its level, who decided and when.",
            ),
        ]

    def __str__(self):
        return f"Assessment of {self.assessed_at:%Y-%m-%d} ({self.recommended_level})"

    @property
    def dimensions(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in DIMENSIONS}

    @property
    def level(self) -> str:
        """What counts: the decision when made, else the recommendation."""
        return self.decided_level or self.recommended_level


class ActivationCode(models.Model):
    """A one-time code that staff hand a patient at the front desk to set up the patient's app.

    Only a keyed hash of the code is stored (``patients.activation``): the plain code is shown
    to staff once and exists nowhere else. A code works once, until ``expires_at``; five wrong
    dates of birth lock it; issuing a new code revokes the patient's earlier unused ones.
    """

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="activation_codes")
    code_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(
        null=True, blank=True, help_text="Replaced by a newer code, or the app access was revoked."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The service revokes the earlier codes under a lock on the patient; this holds it.
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(used_at__isnull=True, locked_at__isnull=True, revoked_at__isnull=True),
                name="activation_code_one_open_per_patient",
                violation_error_code="activation_code_open",
                violation_error_message="The patient already has an open activation code.",
            ),
            models.CheckConstraint(
                condition=Q(used_at__isnull=True) | Q(locked_at__isnull=True),
                name="activation_code_used_or_locked",
                violation_error_message="A used code cannot be locked, nor a locked one used.",
            ),
        ]

    def __str__(self):
        return f"Activation code of patient {self.patient_id} ({self.created_at:%Y-%m-%d})"
