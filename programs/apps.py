from django.apps import AppConfig
from django.db.models.signals import post_save


def _clinic_created(sender, instance, created, raw=False, **kwargs):
    from programs.services.inquiries import referral_sources_seed

    if created and not raw:
        referral_sources_seed(instance)


def _program_created(sender, instance, created, raw=False, **kwargs):
    from programs.services.measures import measure_schedules_seed

    if created and not raw:
        measure_schedules_seed(instance)


class ProgramsConfig(AppConfig):
    name = "programs"

    def ready(self):
        from clinic.api import patient_permissions
        from programs.selectors import alumni_access_check, alumni_access_facts
        from programs.services.schedules import ProgramCalendarRules
        from scheduling import program_rules

        # The calendar's writes of a program's sessions keep its cadence and roster through it.
        program_rules.register_program_rules(ProgramCalendarRules())
        # The patient's app after discharge: ``me/`` closes once alumni access is over; the
        # facts it is decided on come with the account's own query.
        patient_permissions.register_patient_access_check(
            alumni_access_check, facts=alumni_access_facts
        )
        # A new clinic starts with the default referral sources: clinic cannot import programs.
        post_save.connect(
            _clinic_created, sender="clinic.Clinic", dispatch_uid="programs_referral_sources"
        )
        # A new program starts with its level's measure schedules, however it is made.
        post_save.connect(
            _program_created, sender="programs.Program", dispatch_uid="programs_measure_schedules"
        )
