from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "retail.partners"
    label = "partners"
    verbose_name = "Partner apps"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from retail.partners import labels  # noqa: F401  (audit words)
