import django.db.models.deletion
import django.db.models.manager
import django.utils.timezone
from django.db import migrations, models

from retail.rls import EnableRowLevelSecurity


class Migration(migrations.Migration):
    dependencies = [
        ("retail", "0006_staff_kind"),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiIdempotencyRecord",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("principal", models.CharField(max_length=32)),
                ("key", models.CharField(max_length=100)),
                ("method", models.CharField(max_length=8)),
                ("path", models.CharField(max_length=300)),
                ("request_hash", models.CharField(max_length=64)),
                ("status_code", models.PositiveSmallIntegerField(blank=True, null=True)),
                ("response_body", models.JSONField(blank=True, null=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                (
                    "brand",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="retail.brand"
                    ),
                ),
            ],
            options={
                "verbose_name": "API idempotency record",
                "indexes": [
                    models.Index(fields=["brand", "created_at"], name="api_idempotency_brand_at_idx")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("brand", "principal", "key"), name="api_idempotency_unique_key"
                    )
                ],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        EnableRowLevelSecurity("retail_apiidempotencyrecord"),
    ]
