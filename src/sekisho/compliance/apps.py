from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplianceConfig(AppConfig):
    name = "sekisho.compliance"
    label = "compliance"
    verbose_name = _("法令遵守・監督")
