from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "sekisho.core"
    label = "core"
    verbose_name = _("基本情報")

    def ready(self) -> None:
        from . import checks

        checks.register()
