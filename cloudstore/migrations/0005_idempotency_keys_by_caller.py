import re

from django.db import migrations

# A client's Idempotency-Key is now stored as "api:<staff id>:<key>" (retail/idempotency.py);
# recent rows written as "api:<key>" are renamed so that a retry sent across the upgrade is
# still answered as a replay (keys matter for a day; a week is renamed).
NEW_FORM = re.compile(r"^api:\d+:")
RECENT_DAYS = 7


def _rename(apps, schema_editor, *, model: str, field: str):
    import datetime

    from django.utils import timezone

    conn = schema_editor.connection
    app_label, name = model.split(".")
    Row = apps.get_model(app_label, name)
    Staff = apps.get_model("retail", "Staff")
    since = timezone.now() - datetime.timedelta(days=RECENT_DAYS)
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":  # a data migration sees every brand (row-level security)
            cursor.execute("SELECT set_config('app.bypass_rls', 'on', true)")
    rows = Row._base_manager.filter(**{f"{field}__startswith": "api:", "created_at__gte": since})
    for row in rows.exclude(created_by=None).iterator():
        value = getattr(row, field)
        if NEW_FORM.match(value):
            continue
        staff_id = (
            Staff._base_manager.filter(brand_id=row.brand_id, user_id=row.created_by_id)
            .values_list("pk", flat=True)
            .first()
        )
        if staff_id is None:
            continue
        renamed = f"api:{staff_id}:{value[4:]}"
        if len(renamed) <= Row._meta.get_field(field).max_length:
            Row._base_manager.filter(pk=row.pk).update(**{field: renamed})
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            cursor.execute("SELECT set_config('app.bypass_rls', 'off', true)")


def rename_refund_keys(apps, schema_editor):
    _rename(apps, schema_editor, model="cloudstore.Refund", field="key")


class Migration(migrations.Migration):
    dependencies = [
        ("cloudstore", "0004_refund_transfer"),
        ("retail", "0005_user_language"),
    ]

    operations = [migrations.RunPython(rename_refund_keys, migrations.RunPython.noop)]
