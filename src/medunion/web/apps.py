from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "medunion.web"
    label = "web"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .live import renewed_at_sign_in

        user_logged_in.connect(renewed_at_sign_in, dispatch_uid="medunion.web.live.renewed_at_sign_in")
