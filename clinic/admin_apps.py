from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """Django's admin with ``admin.site`` an instance of ``StaffAdminSite`` (its own module: an
    app config is imported before the models are ready)."""

    default_site = "clinic.admin_site.StaffAdminSite"
