from django.apps import AppConfig


class CloudstoreConfig(AppConfig):
    name = "cloudstore"
    verbose_name = "Cloud store"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from cloudstore import labels, merge, navigation  # noqa: F401  member-merge hook, audit words, menus
