from django.apps import AppConfig


class RedpacketsConfig(AppConfig):
    name = "redpackets"
    verbose_name = "Red packets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from redpackets import labels, navigation, purposes  # noqa: F401  top-ups; audit words; menus, cards
