from django.db import migrations

from retail.idempotency import scope_legacy_keys


def rename_refund_keys(apps, schema_editor):
    """Recent client keys stored as "api:<key>" become "api:<staff id>:<key>" (retail/idempotency.py)."""
    scope_legacy_keys(apps, schema_editor, model="cloudstore.Refund", field="key")


class Migration(migrations.Migration):
    dependencies = [
        ("cloudstore", "0004_refund_transfer"),
        ("retail", "0005_user_language"),
    ]

    operations = [migrations.RunPython(rename_refund_keys, migrations.RunPython.noop)]
