from django.db import migrations

from retail.idempotency import scope_legacy_keys


def rename_points_keys(apps, schema_editor):
    """Recent client keys stored as "api:<key>" become "api:<staff id>:<key>" (retail/idempotency.py)."""
    scope_legacy_keys(apps, schema_editor, model="members.PointsEntry", field="source")


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0005_member_policies"),
        ("retail", "0005_user_language"),
    ]

    operations = [migrations.RunPython(rename_points_keys, migrations.RunPython.noop)]
