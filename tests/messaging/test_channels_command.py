"""`manage.py channels connect|list|disconnect`: credentials checked with the platform before saving,
secrets never printed, and linking a contact who wrote on two channels."""

from __future__ import annotations

import io
import uuid

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from chat.conversations.models import Contact, Conversation
from chat.conversations.services import contact_get_or_create, conversation_start
from chat.messaging.models import ChannelContact, MessagingChannel
from chat.messaging.services import contact_link


def run(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    if stdin:
        import sys

        previous = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            call_command("channels", *args, stdout=out)
        finally:
            sys.stdin = previous
    else:
        call_command("channels", *args, stdout=out)
    return out.getvalue()


def test_connect_list_and_disconnect_by_command(fake, tenant_a):
    slug = tenant_a.schema_name
    token = f"EAAG{uuid.uuid4().hex}"
    fake.whatsapp_number_add(phone_number_id="109876543210", token=token, display="+31 6 1234 5678",
                             name="Sunrise Café")
    with pytest.raises(CommandError, match="Invalid OAuth access token"):
        run("connect", "whatsapp", "--tenant", slug, "--phone-number-id", "109876543210",
            "--business-account-id", "102290129340398", "--access-token", "EAAGwrong", "--app-secret", "s")
    with schema_context(slug):
        assert not MessagingChannel.objects.exists()
    printed = run("connect", "whatsapp", "--tenant", slug, "--phone-number-id", "109876543210",
                  "--business-account-id", "102290129340398", "--access-token", "-", "--app-secret", "app-secret-1",
                  stdin=f"{token}\n")
    with schema_context(slug):
        channel = MessagingChannel.objects.get()
        assert channel.access_token == token and channel.name == "+31 6 1234 5678 Sunrise Café"
    assert f"/webhooks/whatsapp/{channel.pk}/" in printed and channel.verify_token in printed
    assert token not in printed and "app-secret-1" not in printed

    bot_token = f"{uuid.uuid4().int % 10**9}:AA{uuid.uuid4().hex}"
    fake.bot_add(token=bot_token, bot_id=880011, username="sunrise_cafe_bot")
    printed = run("connect", "telegram", "--tenant", slug, "--bot-token", bot_token)
    assert "@sunrise_cafe_bot" in printed and bot_token not in printed
    assert fake.state.bots[bot_token]["webhook"]["url"] == f"https://{slug}.test.localhost/webhooks/telegram/2/"

    listing = run("list", "--tenant", slug)
    assert "whatsapp\t+31 6 1234 5678 Sunrise Café\tconnected" in listing
    assert "telegram\t@sunrise_cafe_bot\tconnected" in listing
    assert token not in listing and bot_token not in listing

    run("disconnect", "--tenant", slug, "2")
    assert fake.state.bots[bot_token]["webhook"] == {}
    assert "telegram\t@sunrise_cafe_bot\tdisconnected" in run("list", "--tenant", slug)
    with schema_context(slug):
        assert MessagingChannel.objects.get(pk=2).bot_token == ""
    with pytest.raises(CommandError, match="no tenant"):
        run("list", "--tenant", "nobody-here")


def test_an_agent_links_a_contact_who_wrote_on_two_channels(tenant_a):
    with schema_context(tenant_a.schema_name):
        whatsapp_contact = contact_get_or_create(visitor_id="wa:1:16315550009", name="Ana Lima", phone="+16315550009")
        telegram_contact = contact_get_or_create(visitor_id="te:2:424242", name="Ana")
        on_whatsapp = conversation_start(contact=whatsapp_contact, channel="whatsapp")
        on_telegram = conversation_start(contact=telegram_contact, channel="telegram")
        channel = MessagingChannel.objects.create(platform="telegram", name="@b", bot_user_id=1)
        ChannelContact.objects.create(channel=channel, external_id="424242", contact=telegram_contact,
                                      conversation=on_telegram)
        kept = contact_link(conversation=on_whatsapp, other_contact_id=telegram_contact.pk)
        assert kept.pk == whatsapp_contact.pk and kept.phone == "+16315550009"
        assert set(Conversation.objects.filter(contact=kept).values_list("channel", flat=True)) == {"whatsapp",
                                                                                                   "telegram"}
        assert not Contact.objects.filter(pk=telegram_contact.pk).exists()
        # Telegram replies still reach the same chat: the identity moved with the person.
        assert ChannelContact.objects.get(external_id="424242").contact_id == kept.pk
