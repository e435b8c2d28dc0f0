import uuid

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

from retail.rls import EnableRowLevelSecurity, same_brand_fk


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("retail", "0006_staff_kind"),
        ("partners", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="WebhookEndpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("url", models.CharField(max_length=500, verbose_name="URL")),
                ("description", models.CharField(blank=True, max_length=200, verbose_name="description")),
                ("event_types", models.JSONField(default=list, verbose_name="event types")),
                ("secret", models.CharField(max_length=100)),
                ("previous_secret", models.CharField(blank=True, max_length=100)),
                ("previous_secret_expires_at", models.DateTimeField(blank=True, null=True)),
                ("enabled", models.BooleanField(default=True, verbose_name="enabled")),
                (
                    "disabled_reason",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("", "Enabled"),
                            ("manual", "Disabled by hand"),
                            ("failing", "Kept failing"),
                            ("app_revoked", "The app was revoked"),
                        ],
                        default="",
                        max_length=16,
                        verbose_name="why disabled",
                    ),
                ),
                ("disabled_at", models.DateTimeField(blank=True, null=True)),
                ("failing_since", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "app",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="webhook_endpoints",
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
                "verbose_name": "webhook endpoint",
                "ordering": ["id"],
                "indexes": [models.Index(fields=["brand", "app"], name="webhookendpoint_app_idx")],
                "constraints": [
                    models.UniqueConstraint(fields=("brand", "id"), name="webhookendpoint_brand_id_unique")
                ],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name="WebhookEvent",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("type", models.CharField(max_length=64)),
                ("data", models.JSONField(default=dict)),
                ("livemode", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                (
                    "brand",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="retail.brand"
                    ),
                ),
            ],
            options={
                "verbose_name": "webhook event",
                "ordering": ["created_at"],
                "indexes": [models.Index(fields=["brand", "created_at"], name="webhookevent_created_idx")],
                "constraints": [models.UniqueConstraint(fields=("brand", "id"), name="webhookevent_brand_id_unique")],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name="WebhookDelivery",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "Pending"), ("succeeded", "Delivered"), ("failed", "Given up")],
                        default="pending",
                        max_length=12,
                    ),
                ),
                ("attempts", models.PositiveIntegerField(default=0)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("last_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("last_status", models.PositiveIntegerField(blank=True, null=True)),
                ("last_error", models.CharField(blank=True, max_length=300)),
                ("delivered_at", models.DateTimeField(blank=True, null=True)),
                ("manual", models.BooleanField(default=False)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                (
                    "brand",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="retail.brand"
                    ),
                ),
                (
                    "endpoint",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="webhooks.webhookendpoint",
                    ),
                ),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="deliveries",
                        to="webhooks.webhookevent",
                    ),
                ),
            ],
            options={
                "verbose_name": "webhook delivery",
                "ordering": ["-id"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("status", "pending")),
                        fields=["endpoint", "id"],
                        name="webhookdelivery_due_idx",
                    ),
                    models.Index(
                        condition=models.Q(("status", "pending")),
                        fields=["brand", "next_attempt_at"],
                        name="webhookdelivery_sweep_idx",
                    ),
                    models.Index(fields=["brand", "endpoint", "-id"], name="webhookdelivery_endpoint_idx"),
                    models.Index(fields=["brand", "status", "-id"], name="webhookdelivery_status_idx"),
                ],
                "constraints": [
                    models.UniqueConstraint(fields=("brand", "id"), name="webhookdelivery_brand_id_unique")
                ],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        migrations.CreateModel(
            name="WebhookAttempt",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
                ("url", models.CharField(blank=True, max_length=500)),
                ("request_headers", models.JSONField(default=dict)),
                ("request_body", models.TextField(blank=True)),
                ("response_status", models.PositiveIntegerField(blank=True, null=True)),
                ("response_headers", models.JSONField(default=dict)),
                ("response_body", models.TextField(blank=True)),
                ("error", models.CharField(blank=True, max_length=300)),
                ("duration_ms", models.PositiveIntegerField(default=0)),
                (
                    "brand",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to="retail.brand"
                    ),
                ),
                (
                    "delivery",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attempt_log",
                        to="webhooks.webhookdelivery",
                    ),
                ),
            ],
            options={
                "verbose_name": "webhook attempt",
                "ordering": ["id"],
                "indexes": [models.Index(fields=["brand", "delivery", "id"], name="webhookattempt_delivery_idx")],
            },
            managers=[
                ("objects", django.db.models.manager.Manager()),
                ("unscoped", django.db.models.manager.Manager()),
            ],
        ),
        EnableRowLevelSecurity("webhooks_webhookendpoint"),
        EnableRowLevelSecurity("webhooks_webhookevent"),
        EnableRowLevelSecurity("webhooks_webhookdelivery"),
        EnableRowLevelSecurity("webhooks_webhookattempt"),
        same_brand_fk("webhooks_webhookendpoint", "app_id", "partners_partnerapp"),
        same_brand_fk("webhooks_webhookdelivery", "endpoint_id", "webhooks_webhookendpoint"),
        same_brand_fk("webhooks_webhookdelivery", "event_id", "webhooks_webhookevent"),
        same_brand_fk("webhooks_webhookattempt", "delivery_id", "webhooks_webhookdelivery"),
    ]
