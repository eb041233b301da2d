"""Logging in and out, password reset, brute-force lockout, roles, CSRF, tenant isolation."""

from __future__ import annotations

import re

from django.core import mail
from django.test import Client

from tests.dashboard.conftest import AGENT_PASSWORD, OWNER_PASSWORD, Business


def login(client: Client, email: str, password: str, **extra: str) -> object:
    return client.post("/app/login/", {"username": email, "password": password}, **extra)


def test_an_agent_logs_in_with_email_and_password_and_lands_in_the_inbox(business: Business) -> None:
    client = business.client()
    response = login(client, business.agent.email.upper(), AGENT_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/app/inbox/"
    inbox = client.get("/app/inbox/")
    assert inbox.status_code == 200
    assert b"Skip to content" in inbox.content


def test_a_wrong_password_is_refused_with_a_message(business: Business) -> None:
    response = login(business.client(), business.agent.email, "wrong-password")
    assert response.status_code == 200
    assert b"correct" in response.content
    assert "_auth_user_id" not in business.client().session


def test_pages_send_anonymous_visitors_to_the_login_page(business: Business) -> None:
    response = business.client().get("/app/inbox/")
    assert response.status_code == 302
    assert response["Location"].startswith("/app/login/?next=/app/inbox/")


def test_logout_is_a_post_and_ends_the_session(business: Business) -> None:
    client = business.client(business.agent)
    assert client.get("/app/logout/").status_code == 405
    response = client.post("/app/logout/")
    assert response.status_code == 302
    assert client.get("/app/inbox/").status_code == 302


def test_a_password_reset_email_link_lets_the_user_choose_a_new_password(business: Business) -> None:
    client = business.client()
    mail.outbox.clear()
    response = client.post("/app/password-reset/", {"email": business.agent.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"http://[^/\s]+(/app/password-reset/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    assert business.domain in mail.outbox[0].body

    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200 and b"Choose a new password" in form_page.content
    done = client.post(form_page.redirect_chain[-1][0], {"new_password1": "brand-new-pass-987",
                                                         "new_password2": "brand-new-pass-987"})
    assert done.status_code == 302

    assert login(business.client(), business.agent.email, "brand-new-pass-987").status_code == 302
    assert login(business.client(), business.agent.email, AGENT_PASSWORD).status_code == 200


def test_repeated_failures_lock_the_address_out_even_with_the_right_password(business: Business) -> None:
    client = business.client()
    for _ in range(5):
        login(client, business.owner.email, "not-it", REMOTE_ADDR="10.1.2.3")
    locked = login(client, business.owner.email, OWNER_PASSWORD, REMOTE_ADDR="10.1.2.3")
    assert locked.status_code == 429
    assert b"Too many failed log-in attempts" in locked.content
    # Another address is not locked out with it: the lockout is per e-mail address and IP address.
    assert login(business.client(), business.owner.email, OWNER_PASSWORD, REMOTE_ADDR="10.9.9.9").status_code == 302


def test_an_agent_gets_403_on_owner_pages_and_sees_no_links_to_them(business: Business) -> None:
    client = business.client(business.agent)
    assert client.get("/app/team/").status_code == 403
    assert client.get("/app/canned-responses/").status_code == 403
    inbox = client.get("/app/inbox/").content.decode()
    assert 'href="/app/team/"' not in inbox
    owner_inbox = business.client(business.owner).get("/app/inbox/").content.decode()
    assert 'href="/app/team/"' in owner_inbox


def test_a_post_without_the_csrf_token_is_refused(business: Business) -> None:
    client = business.client(csrf_checks=True)
    assert login(client, business.agent.email, AGENT_PASSWORD).status_code == 403
    logged_in = business.client(business.owner, csrf_checks=True)
    assert logged_in.post("/app/team/", {"email": "x@example.test", "role": "agent"}).status_code == 403


def test_a_user_of_one_business_cannot_log_in_on_another_businesss_domain(
        business: Business, other_business: Business) -> None:
    assert login(other_business.client(), business.owner.email, OWNER_PASSWORD).status_code == 200
    assert login(business.client(), business.owner.email, OWNER_PASSWORD).status_code == 302


def test_the_menu_lists_only_pages_that_exist_and_hides_owner_pages_from_agents(monkeypatch: object) -> None:
    from chat.dashboard import nav

    items = [*nav.NAV_ITEMS, nav.NavItem("Not built yet", "dashboard:not-built-yet")]
    monkeypatch.setattr(nav, "NAV_ITEMS", items)  # type: ignore[attr-defined]
    owner_labels = [link.label for link in nav.nav_links_for(is_owner=True, current_path="/app/team/")]
    agent_labels = [link.label for link in nav.nav_links_for(is_owner=False, current_path="/app/inbox/")]
    assert "Not built yet" not in owner_labels
    assert "Team" in owner_labels and "Team" not in agent_labels
    assert "Inbox" in agent_labels


def test_the_lockout_counts_an_address_whatever_its_letter_case(business: Business) -> None:
    client = business.client()
    for attempt in range(5):
        email = business.owner.email.upper() if attempt % 2 else business.owner.email
        login(client, email, "not-it", REMOTE_ADDR="10.4.4.4")
    assert login(client, business.owner.email.title(), OWNER_PASSWORD, REMOTE_ADDR="10.4.4.4").status_code == 429

