from django.db import migrations, models


def _sent_before(apps, schema_editor):
    """Refunds made before this field existed were sent in their own request: those with a
    provider reference were returned to the payer."""
    conn = schema_editor.connection
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":  # a data migration sees every brand (row-level security)
            cursor.execute("SELECT set_config('app.bypass_rls', 'on', true)")
        cursor.execute("UPDATE cloudstore_refund SET transfer = 'sent' WHERE provider_reference <> ''")
        if conn.vendor == "postgresql":
            cursor.execute("SELECT set_config('app.bypass_rls', 'off', true)")


class Migration(migrations.Migration):
    dependencies = [
        ("cloudstore", "0003_refund_shopper_note"),
    ]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="return_pending",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="refund",
            name="transfer",
            field=models.CharField(
                choices=[
                    ("none", "Not through us"),
                    ("pending", "Being returned"),
                    ("sent", "Returned to the payer"),
                    ("failed", "Return failed, tried again"),
                ],
                default="none",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="refund",
            name="transfer_claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="refund",
            name="transfer_error",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RunPython(_sent_before, migrations.RunPython.noop),
    ]
