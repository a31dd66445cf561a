from django.db import migrations

# Case-insensitive usernames (clinic.models.USERNAME_LOWER_UNIQUE_INDEX). Fails on a database
# that already holds two usernames differing only in case: rename one first.


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("clinic", "0008_continuity_gap_alerts"),
    ]

    operations = [
        migrations.RunSQL(
            sql="CREATE UNIQUE INDEX auth_user_username_lower_uniq ON auth_user (lower(username))",
            reverse_sql="DROP INDEX auth_user_username_lower_uniq",
        ),
    ]
