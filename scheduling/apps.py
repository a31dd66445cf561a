from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"

    def ready(self):
        from patients import hooks
        from scheduling.reminders import ChannelPlanner

        # A channel a patient gains plans reminders for the sessions already on their schedule.
        hooks.register_reminder_planner(ChannelPlanner())
