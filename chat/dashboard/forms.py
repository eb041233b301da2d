"""Dashboard forms: parsing and field validation only; decisions live in services."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import validate_password

from tenants.services import ROLE_AGENT, ROLE_OWNER


class EmailLoginForm(AuthenticationForm):
    """Usernames are lower-case e-mail addresses; people type theirs in any case."""

    username = forms.EmailField(label="E-mail", widget=forms.EmailInput(attrs={"autofocus": True,
                                                                             "autocomplete": "email"}))

    def clean_username(self) -> str:
        return str(self.cleaned_data["username"]).strip().lower()


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(label="Role", choices=[(ROLE_AGENT, "Agent"), (ROLE_OWNER, "Owner")])


class InvitationAcceptForm(forms.Form):
    name = forms.CharField(label="Your name", max_length=80,
                           help_text="Customers see this name in the chat, never your e-mail address.")
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label="Password again",
                                widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords differ.")
        elif first:
            from django.contrib.auth.models import User

            try:
                validate_password(first, User(username=self.email, email=self.email, first_name=data.get("name", "")))
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class MyProfileForm(forms.Form):
    display_name = forms.CharField(label="Name customers see", max_length=80,
                                   help_text="Shown in the chat (\u201cSam is typing\u2026\u201d) instead of your e-mail "
                                             "address.")
    avatar_url = forms.URLField(label="Avatar address (optional)", required=False, max_length=2048,
                                assume_scheme="https", help_text="An https:// link to a picture of you.")
    avatar_upload = forms.FileField(label="Or upload an avatar (optional)", required=False,
                                    help_text="PNG, JPEG, GIF or WebP, at most 256 KB.",
                                    widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/gif,"
                                                                                     "image/webp"}))
    avatar_remove = forms.BooleanField(label="Remove my avatar", required=False)


class CannedResponseForm(forms.Form):
    title = forms.CharField(label="Title", max_length=100)
    text = forms.CharField(label="Text", widget=forms.Textarea(attrs={"rows": 4}), max_length=4000)


class ReplyForm(forms.Form):
    text = forms.CharField(label="Message", widget=forms.Textarea(attrs={"rows": 3}), max_length=4000)
    internal = forms.BooleanField(label="Internal note (the customer does not see it)", required=False)


class ApiKeyForm(forms.Form):
    """A new API key: what it is for, and what it may do (chat.api.models.Scope)."""

    name = forms.CharField(max_length=100, label="Name", help_text="What uses it: “Shop backend”, “CRM sync”.")
    scopes = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, label="Scopes",
        help_text="Read and write say what it may do; the others, what it may touch.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from chat.api.models import Scope

        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = Scope.choices
        self.fields["scopes"].initial = list(Scope.values)
