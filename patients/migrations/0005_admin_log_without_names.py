from django.apps import apps as current_apps
from django.db import migrations
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils.text import capfirst

# The admin's log named each object by its str(), "Last, First (MRN)" for a patient, and kept it
# for good: the entries written so far get the kind and id that the admin writes from now on
# (clinic.admin_utils.log_name).
APPS = ["clinic", "patients", "programs", "scheduling"]


def forget_names(apps, schema_editor):
    LogEntry = apps.get_model("admin", "LogEntry")
    ContentType = apps.get_model("contenttypes", "ContentType")
    for content_type in ContentType.objects.filter(app_label__in=APPS):
        try:
            model = current_apps.get_model(content_type.app_label, content_type.model)
            kind = capfirst(model._meta.verbose_name)
        except LookupError:
            kind = capfirst(content_type.model)
        LogEntry.objects.filter(content_type_id=content_type.pk).update(
            object_repr=Concat(Value(f"{kind} #"), F("object_id"))
        )


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0004_sms_opted_out_at"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forget_names, migrations.RunPython.noop)]
