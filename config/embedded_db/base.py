"""Django's PostgreSQL backend, starting the embedded servers when a connection needs them.

Settings name this engine only when DATABASE_URL is unset. The servers start on the first
connection a process makes (or when a later connection is refused), so commands that never touch
the database, such as ``embedded_stop``, start nothing.
"""

from django.conf import settings
from django.db.backends.postgresql import base

from config import embedded


class DatabaseWrapper(base.DatabaseWrapper):
    _servers_checked = False

    def get_new_connection(self, conn_params):
        if not DatabaseWrapper._servers_checked:
            embedded.ensure_project_servers(settings.EMBEDDED_SERVERS)
            DatabaseWrapper._servers_checked = True
            return super().get_new_connection(conn_params)
        try:
            return super().get_new_connection(conn_params)
        except base.Database.OperationalError:
            # Stopped since (embedded_stop, a reboot): start again once, else the real error.
            if not embedded.ensure_project_servers(settings.EMBEDDED_SERVERS):
                raise
            return super().get_new_connection(conn_params)
