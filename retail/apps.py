from django.apps import AppConfig


class RetailConfig(AppConfig):
    name = "retail"
    verbose_name = "Retail core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from retail import api_fields, checks, labels, navigation  # noqa: F401  (checks, audit words: register themselves)

        api_fields.install()
        navigation.register_core()
