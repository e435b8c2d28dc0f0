from django.apps import AppConfig


class CloudstoreConfig(AppConfig):
    name = "cloudstore"
    verbose_name = "Cloud store"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cloudstore import labels, merge  # noqa: F401  registers the member-merge hook and audit words
