import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models
from oauth2_provider.settings import oauth2_settings

from retail.rls import EnableRowLevelSecurity, same_brand_fk

# The token middleware reads the app of a token before it knows the brand (as Staff's USER_MATCH).
APPLICATION_MATCH = "application_id = nullif(current_setting('app.oauth_application_id', true), '')::bigint"


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("retail", "0006_staff_kind"),
        migrations.swappable_dependency(oauth2_settings.APPLICATION_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="PartnerApp",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, verbose_name="name")),
                ("scopes", models.JSONField(blank=True, default=list, verbose_name="scopes")),
                ("ip_allowlist", models.JSONField(blank=True, default=list, verbose_name="IP allowlist")),
                ("rate_limit_per_minute", models.PositiveIntegerField(default=600, verbose_name="requests per minute")),
                ("test_mode", models.BooleanField(default=False, verbose_name="test mode")),
                ("previous_secret_hash", models.CharField(blank=True, max_length=255)),
                ("previous_secret_expires_at", models.DateTimeField(blank=True, null=True)),
                (
                    "status",
                    models.CharField(
                        choices=[("active", "Active"), ("revoked", "Revoked")],
                        default="active",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("last_used_at", models.DateTimeField(blank=True, null=True)),
                (
                    "application",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="partner_app",
                        to=oauth2_settings.APPLICATION_MODEL,
                    ),
                ),
                (
                    "brand",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="retail.brand"
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="retail.staff",
                    ),
                ),
                (
                    "service_staff",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="partner_app",
                        to="retail.staff",
                    ),
                ),
            ],
            options={
                "verbose_name": "partner app",
                "verbose_name_plural": "partner apps",
                "ordering": ["name", "id"],
                "indexes": [models.Index(fields=["brand", "status"], name="partnerapp_brand_status_idx")],
                "constraints": [
                    models.UniqueConstraint(fields=("brand", "id"), name="partnerapp_brand_id_unique")
                ],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name="PartnerCall",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("method", models.CharField(max_length=8)),
                ("path", models.CharField(max_length=300)),
                ("route", models.CharField(blank=True, max_length=100)),
                ("status", models.PositiveSmallIntegerField()),
                ("duration_ms", models.PositiveIntegerField(default=0)),
                ("ip", models.GenericIPAddressField(blank=True, null=True)),
                ("idempotency_key", models.CharField(blank=True, max_length=100)),
                ("error_code", models.CharField(blank=True, max_length=64)),
                ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                (
                    "app",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="calls",
                        to="partners.partnerapp",
                    ),
                ),
                (
                    "brand",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="retail.brand"
                    ),
                ),
            ],
            options={
                "verbose_name": "partner call",
                "verbose_name_plural": "partner calls",
                "ordering": ["-at", "-id"],
                "indexes": [
                    models.Index(fields=["brand", "-at"], name="partnercall_brand_at_idx"),
                    models.Index(fields=["brand", "app", "-at"], name="partnercall_brand_app_at_idx"),
                ],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        EnableRowLevelSecurity("partners_partnerapp", also_visible=APPLICATION_MATCH),
        EnableRowLevelSecurity("partners_partnercall"),
        same_brand_fk("partners_partnerapp", "service_staff_id", "retail_staff"),
        same_brand_fk("partners_partnerapp", "created_by_id", "retail_staff"),
        same_brand_fk("partners_partnercall", "app_id", "partners_partnerapp"),
    ]
