from django.apps import AppConfig


class GuidesConfig(AppConfig):
    name = "guides"
    verbose_name = "Guides and commission"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from guides import labels, navigation  # noqa: F401  audit words; menus
        from guides.messaging import (
            broadcast_labels,  # noqa: F401  mass messages' audit words
            erase,  # noqa: F401  a member's erasure blanks their conversation
            merge,  # noqa: F401  conversations follow a member merge
        )
