from django.urls import path

from . import views

app_name = "coord"
urlpatterns = [
    path("", views.network, name="network"),
]
