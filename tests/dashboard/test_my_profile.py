"""Each team member's own profile page: the name and avatar customers see, checked before it is stored."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from chat.conversations.models import TeamMemberProfile
from chat.conversations.selectors import agent_identity
from chat.dashboard.services import AVATAR_MAX_BYTES
from tests.dashboard.conftest import Business

ONE_PIXEL_PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                              "0000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082")


def identity(business: Business, user: User) -> tuple[str, str | None]:
    with schema_context(business.tenant.schema_name):
        shown = agent_identity(user=User.objects.select_related("team_profile").get(pk=user.pk))
    return shown.name, shown.avatar_url


def save(business: Business, user: User, **fields: object) -> bytes:
    response = business.client(user).post("/app/me/", {"display_name": "Anna", **fields}, follow=True)
    saved = response.redirect_chain != []
    # Saved: the page it leads to; refused: the form again, with what is wrong and a 400.
    assert response.status_code == (200 if saved else 400)
    return bytes(response.content)


def test_an_agent_sets_the_name_customers_see_but_never_an_email_address(business: Business) -> None:
    assert business.client(business.agent).get("/app/me/").status_code == 200
    assert b"not an e-mail address" in save(business, business.agent, display_name="anna@example.test")
    assert identity(business, business.agent) == ("Anna Agent", None)
    assert b"Your profile was saved." in save(business, business.agent, display_name="  Anna   B. ")
    assert identity(business, business.agent) == ("Anna B.", None)


def test_an_avatar_is_an_http_address_or_a_small_real_image(business: Business) -> None:
    page = save(business, business.agent, avatar_url="javascript:alert(1)")
    assert b"Enter a valid URL" in page or b"starts with https://" in page
    save(business, business.agent, avatar_url="https://img.example/anna.png")
    assert identity(business, business.agent) == ("Anna", "https://img.example/anna.png")

    # An SVG or a page named .png is refused, whatever the browser says it is; so is a large file
    for content in (b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", b"<html><script>1</script>",
                    ONE_PIXEL_PNG + b"\0" * AVATAR_MAX_BYTES):
        upload = SimpleUploadedFile("me.png", content, content_type="image/png")
        assert b"Your profile was saved." not in save(business, business.agent, avatar_upload=upload)
    assert identity(business, business.agent)[1] == "https://img.example/anna.png"

    save(business, business.agent, avatar_upload=SimpleUploadedFile("me.png", ONE_PIXEL_PNG, "image/png"))
    name, avatar = identity(business, business.agent)
    assert name == "Anna" and avatar is not None and avatar.startswith(f"/widget/avatars/{business.agent.pk}?v=")
    # Served from the business's own domain to any site, only ever as the image it is
    response = business.client().get(avatar)
    assert response.status_code == 200 and response.content == ONE_PIXEL_PNG
    assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]

    save(business, business.agent, avatar_remove="on")
    assert identity(business, business.agent) == ("Anna", None)
    assert business.client().get(f"/widget/avatars/{business.agent.pk}").status_code == 404
    with schema_context(business.tenant.schema_name):
        assert TeamMemberProfile.objects.get(user=business.agent).avatar_image is None


def test_a_team_member_without_a_profile_is_the_business_team(business: Business) -> None:
    with schema_context(business.tenant.schema_name):
        User.objects.filter(pk=business.owner.pk).update(first_name="")
    assert identity(business, business.owner)[0] == f"{business.tenant.name} team"
