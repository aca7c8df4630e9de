from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "medunion.web"
    label = "web"
