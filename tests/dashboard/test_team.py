"""The owner invites teammates by e-mail link, within the plan's seats, and removes them."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.core import mail
from django_tenants.utils import schema_context

from tests.dashboard.conftest import Business


def invite(business: Business, email: str, role: str = "agent") -> object:
    return business.client(business.owner).post("/app/team/", {"email": email, "role": role}, follow=True)


def invitation_path() -> str:
    match = re.search(r"http://[^/\s]+(/app/invite/\S+/)", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return match.group(1)


def test_an_invitee_sets_name_and_password_through_the_link_once(business: Business) -> None:
    mail.outbox.clear()
    response = invite(business, "New.Person@Example.test")
    assert b"An invitation was sent to new.person@example.test" in response.content
    assert mail.outbox[-1].to == ["new.person@example.test"]
    path = invitation_path()

    visitor = business.client()
    page = visitor.get(path)
    assert page.status_code == 200 and b"new.person@example.test" in page.content
    accepted = visitor.post(path, {"name": "Nina New", "password1": "nina-secret-42", "password2": "nina-secret-42"})
    assert accepted.status_code == 302 and accepted["Location"] == "/app/inbox/"
    assert visitor.get("/app/inbox/").status_code == 200

    with schema_context(business.tenant.schema_name):
        user = User.objects.get(username="new.person@example.test")
        assert user.first_name == "Nina New"
        assert list(user.groups.values_list("name", flat=True)) == ["agent"]
    # Single use: the same link does nothing the second time.
    again = business.client().get(path)
    assert again.status_code == 404 and b"already used" in again.content


def test_an_invitation_link_does_not_work_on_another_businesss_domain(
        business: Business, other_business: Business) -> None:
    mail.outbox.clear()
    invite(business, "someone@example.test")
    path = invitation_path()
    assert other_business.client().get(path).status_code == 404
    tampered = path[:-3] + ("x" if path[-3] != "x" else "y") + path[-2:]
    assert business.client().get(tampered).status_code == 404


def test_invitations_stop_at_the_plans_seat_limit_with_a_clear_error(business: Business) -> None:
    # The starter plan has 3 seats: the owner and the agent hold two.
    seats = business.tenant.plan.agent_seats
    assert seats == 3
    invite(business, "third@example.test")
    response = invite(business, "fourth@example.test")
    assert b"all are taken" in response.content
    with schema_context(business.tenant.schema_name):
        assert not User.objects.filter(username="fourth@example.test").exists()

    # Removing a teammate frees a seat.
    owner = business.client(business.owner)
    assert owner.post(f"/app/team/{business.agent.pk}/remove").status_code == 302
    assert b"An invitation was sent" in invite(business, "fourth@example.test").content
    # The removed agent's session no longer opens the dashboard.
    assert business.client(business.agent).get("/app/inbox/").status_code == 302


def test_an_owner_cannot_remove_themselves(business: Business) -> None:
    response = business.client(business.owner).post(f"/app/team/{business.owner.pk}/remove", follow=True)
    assert b"You cannot remove yourself" in response.content


def test_an_agent_cannot_invite(business: Business) -> None:
    response = business.client(business.agent).post("/app/team/", {"email": "x@example.test", "role": "owner"})
    assert response.status_code == 403


def test_a_withdrawn_invitation_link_stops_working_and_frees_its_seat(business: Business) -> None:
    from chat.models import Invitation

    mail.outbox.clear()
    invite(business, "maybe@example.test")
    path = invitation_path()
    with schema_context(business.tenant.schema_name):
        invitation = Invitation.objects.get(email="maybe@example.test")
    business.client(business.owner).post(f"/app/team/invitations/{invitation.pk}/revoke")
    withdrawn = business.client().get(path)
    assert withdrawn.status_code == 404 and b"withdrawn" in withdrawn.content
    team = business.client(business.owner).get("/app/team/").content.decode()
    assert "2 of 3 seats used" in team
