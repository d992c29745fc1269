from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OversightConfig(AppConfig):
    name = "sekisho.oversight"
    label = "oversight"
    verbose_name = _("発注者の監督・検査")
