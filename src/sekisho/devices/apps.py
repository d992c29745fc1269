from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DevicesConfig(AppConfig):
    name = "sekisho.devices"
    label = "devices"
    verbose_name = _("端末・媒体")
