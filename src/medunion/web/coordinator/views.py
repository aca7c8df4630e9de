from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def network(request: HttpRequest) -> HttpResponse:
    return render(request, "web/base.html")
