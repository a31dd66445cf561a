"""Programs as configuration records: creating or changing a program and its beds."""

from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.services import clinic_config_save
from patients.models import Level
from programs.models import Program


@transaction.atomic
def program_save(*, actor, program: Program, fields, beds=None) -> Program:
    """Create or change ``program`` (carrying its new values) as a configuration record of its
    clinic (``clinic_config_save``); ``beds``, when given, become its beds: only a residential
    program has beds, and only its own clinic's."""
    if beds:
        if program.level != Level.RESIDENTIAL:
            raise ValidationError({"beds": ["Only residential programs have beds."]})
        if any(bed.clinic_id != program.clinic_id for bed in beds):
            raise ValidationError({"beds": ["Choose beds of the program's clinic."]})
    related = {"beds": beds} if beds is not None else {}
    return clinic_config_save(actor=actor, record=program, fields=fields, related=related)
