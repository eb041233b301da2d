from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from chat.conversations.services import business_profile_get


def home(request: HttpRequest) -> HttpResponse:
    """The business's root address: its name, and the way to the dashboard and to the demo page."""
    profile = business_profile_get()
    return render(request, "chat/home.html", {"business_name": profile.name or request.tenant.name,
                                              "tagline": profile.tagline})
