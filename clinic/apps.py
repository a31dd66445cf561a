from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from clinic import signals
        from clinic.sessions import session_signed_in

        signals.connect()
        # A session's absolute lifetime starts at sign-in (automatic log-off).
        user_logged_in.connect(session_signed_in, dispatch_uid="clinic.session_signed_in")
