from django.apps import AppConfig


class ProgramsConfig(AppConfig):
    name = "programs"

    def ready(self):
        from programs.services.schedules import ProgramCalendarRules
        from scheduling import program_rules

        # The calendar's writes of a program's sessions keep its cadence and roster through it.
        program_rules.register_program_rules(ProgramCalendarRules())
