from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "Members"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from members import labels, navigation  # noqa: F401  audit words; menu entries and home cards
