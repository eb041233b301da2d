"""The dashboard's URLs, under /app/ on each business's own domain (namespace "dashboard").

Part 2's pages add their paths to `urlpatterns` and their menu entries to `chat.dashboard.nav`.
"""

from django.urls import include, path

from chat.dashboard import accounts, inbox

app_name = "dashboard"
urlpatterns = [
    path("", inbox.home, name="home"),
    # Accounts
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", accounts.LogoutView.as_view(), name="logout"),
    path("password-reset/", accounts.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", accounts.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path("password-reset/<uidb64>/<token>/", accounts.PasswordResetConfirmView.as_view(),
         name="password-reset-confirm"),
    path("password-reset/done/", accounts.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("me/", accounts.my_profile, name="me"),
    path("team/", accounts.team, name="team"),
    path("team/<int:user_id>/remove", accounts.team_member_remove, name="team-member-remove"),
    path("team/invitations/<int:invitation_id>/revoke", accounts.invitation_revoke, name="invitation-revoke"),
    path("invite/<str:token>/", accounts.invitation_accept, name="invitation-accept"),
    # Inbox
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/rows", inbox.inbox_rows, name="inbox-rows"),
    path("inbox/<int:conversation_id>/", inbox.conversation_detail, name="conversation"),
    path("inbox/<int:conversation_id>/transcript", inbox.conversation_transcript, name="conversation-transcript"),
    path("inbox/<int:conversation_id>/reply", inbox.conversation_reply, name="conversation-reply"),
    path("inbox/<int:conversation_id>/action", inbox.conversation_action, name="conversation-action"),
    path("inbox/<int:conversation_id>/assign", inbox.conversation_assign, name="conversation-assign"),
    path("inbox/<int:conversation_id>/presence", inbox.conversation_presence, name="conversation-presence"),
    path("inbox/<int:conversation_id>/link-contact", inbox.conversation_contact_link, name="conversation-link-contact"),
    path("customers/<int:contact_id>/data", inbox.contact_data, name="contact-data"),
    path("customers/<int:contact_id>/erase", inbox.contact_erase, name="contact-erase"),
    path("canned-responses/", inbox.canned_responses, name="canned-responses"),
    path("canned-responses/<int:canned_response_id>/delete", inbox.canned_response_delete,
         name="canned-response-delete"),
    path("", include("chat.dashboard.content_urls")),
]
