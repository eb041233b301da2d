"""Dashboard accounts: login, logout, password reset, the team page and invitations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from chat.conversations.selectors import agent_identity
from chat.dashboard import forms, selectors, services
from chat.dashboard.permissions import agent_required, owner_required
from config.errors import error_page, errors_as_messages, form_submit


class LoginView(auth_views.LoginView):
    template_name = "dashboard/accounts/login.html"
    authentication_form = forms.EmailLoginForm
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        services.account_login(request=self.request, user=form.get_user())
        return HttpResponseRedirect(self.get_success_url())


class LogoutView(auth_views.LogoutView):
    """POST only (Django's own rule): a link or an image cannot log anyone out."""

    next_page = reverse_lazy("dashboard:login")

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user_id = request.user.pk if request.user.is_authenticated else None
        response = super().post(request, *args, **kwargs)
        if user_id is not None:
            # The session is gone: the inbox sockets it opened (other tabs) close; other sessions' stay.
            services.agent_sockets_recheck(user_id=user_id)
        return response


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "dashboard/accounts/password_reset.html"
    email_template_name = "dashboard/accounts/password_reset_email.txt"
    subject_template_name = "dashboard/accounts/password_reset_subject.txt"
    success_url = reverse_lazy("dashboard:password-reset-done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "dashboard/accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "dashboard/accounts/password_reset_confirm.html"
    success_url = reverse_lazy("dashboard:password-reset-complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # The new password ends every session made before it; so it does their open inbox sockets.
        services.agent_sockets_recheck(user_id=form.user.pk)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "dashboard/accounts/password_reset_complete.html"


@owner_required
def team(request: HttpRequest) -> HttpResponse:
    form = forms.InvitationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        submitted = form_submit(form, lambda data: services.invitation_create(
            email=data["email"], role=data["role"], invited_by=request.user, tenant=request.tenant,
            base_url=request.build_absolute_uri("/")))
        if submitted.result is not None:
            messages.success(request, f"An invitation was sent to {submitted.result.email}.")
            return redirect("dashboard:team")
        status = submitted.status
    return render(request, "dashboard/accounts/team.html", {
        "form": form,
        "members": selectors.team_member_list(),
        "invitations": selectors.invitation_list_open(),
        "seats": selectors.seat_usage(tenant=request.tenant),
    }, status=status)


@require_POST
@owner_required
def team_member_remove(request: HttpRequest, user_id: int) -> HttpResponse:
    with errors_as_messages(request):
        removed = services.team_member_remove(user_id=user_id, removed_by=request.user)
        messages.success(request, f"{removed} no longer has access.")
    return redirect("dashboard:team")


@require_POST
@owner_required
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    services.invitation_revoke(invitation_id=invitation_id)
    messages.success(request, "The invitation was withdrawn.")
    return redirect("dashboard:team")


@error_page("dashboard/accounts/invitation_invalid.html")
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The invitee's page: no login needed, the signed single-use token is the credential."""
    invitation = selectors.invitation_get_open(token=token)
    form = forms.InvitationAcceptForm(request.POST or None, email=invitation.email)
    status = 200
    if request.method == "POST":
        submitted = form_submit(form, lambda data: services.invitation_accept(
            token=token, name=data["name"], password=data["password1"], tenant=request.tenant))
        if submitted.result is not None:
            login(request, submitted.result, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to the team.")
            return redirect("dashboard:inbox")
        status = submitted.status
    return render(request, "dashboard/accounts/invitation_accept.html", {"form": form, "invitation": invitation},
                  status=status)


@agent_required
def my_profile(request: HttpRequest) -> HttpResponse:
    """Every team member's own page: the name and avatar customers see."""
    profile = selectors.team_member_profile_get(user=request.user)
    form = forms.MyProfileForm(request.POST or None, request.FILES or None, initial={
        "display_name": profile.display_name if profile else request.user.get_full_name(),
        "avatar_url": profile.avatar_url if profile else ""})
    status = 200
    if request.method == "POST":
        submitted = form_submit(form, lambda data: services.team_member_profile_save(
            user=request.user, display_name=data["display_name"], avatar_url=data["avatar_url"] or "",
            # One byte past the limit is enough to refuse it without reading a huge file.
            avatar_upload=(data["avatar_upload"].read(services.AVATAR_MAX_BYTES + 1)
                           if data["avatar_upload"] else None),
            avatar_remove=data["avatar_remove"]))
        if submitted.accepted:
            messages.success(request, "Your profile was saved.")
            return redirect("dashboard:me")
        status = submitted.status
    return render(request, "dashboard/accounts/me.html", {
        "form": form, "identity": agent_identity(user=request.user)}, status=status)


def login_locked_out(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict[str, Any] | None = None) -> HttpResponse:
    """What django-axes answers once an e-mail address has failed too often from one address."""
    cooloff = settings.AXES_COOLOFF_TIME
    minutes = max(1, round(cooloff.total_seconds() / 60)) if isinstance(cooloff, timedelta) else None
    return render(request, "dashboard/accounts/locked_out.html", {"cooloff_minutes": minutes}, status=429)

