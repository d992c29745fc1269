from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "sekisho.web"
    label = "web"
