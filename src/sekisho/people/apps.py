from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PeopleConfig(AppConfig):
    name = "sekisho.people"
    label = "people"
    verbose_name = _("社員等・研修・誓約書")
