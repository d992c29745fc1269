from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CloseoutConfig(AppConfig):
    name = "sekisho.closeout"
    label = "closeout"
    verbose_name = _("業務完了時の返却・廃棄")
