from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "retail.webhooks"
    label = "webhooks"
    verbose_name = "Webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from retail.webhooks import labels  # noqa: F401  audit words
