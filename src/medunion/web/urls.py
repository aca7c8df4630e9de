from django.urls import include, path

from . import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("login", views.login_view, name="login"),
    path("logout", views.logout_view, name="logout"),
    path("account/mfa", views.mfa_setup, name="mfa_setup"),
    path("network/", include("medunion.web.coordinator.urls")),
]
