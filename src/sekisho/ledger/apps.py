from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "sekisho.ledger"
    label = "ledger"
    verbose_name = _("行政情報管理台帳")
