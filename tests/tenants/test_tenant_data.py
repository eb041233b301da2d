"""A business's data leaves, comes back and goes away as promised: export and import, backup and
restore (the drill), and deletion after its grace period."""

from __future__ import annotations

import io
import tarfile
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from chat.conversations.models import Message, TeamMemberProfile
from chat.conversations.services import contact_get_or_create, conversation_start, message_receive
from chat.dashboard.services import team_member_profile_save
from chat.knowledge.selectors import kb_search
from config.redis import redis_client, tenant_key
from tenants import backups, deletion, portability
from tenants.models import DeadLetter, Tenant

QUESTIONS = ["how long does delivery take", "can I return a hoodie", "do you ship abroad"]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def unique_slug() -> str:
    return f"r{uuid.uuid4().hex[:10]}"


def search_results(schema: str) -> list[list[tuple[str, float]]]:
    with schema_context(schema):
        return [[(result.title, round(result.score, 6)) for result in kb_search(query=question)]
                for question in QUESTIONS]


def model_counts(schema: str) -> dict[str, int]:
    with schema_context(schema):
        return {model._meta.label_lower: model._default_manager.count() for model in portability.tenant_models()}


@pytest.fixture
def shop_with_talk(demo_copies: dict[str, Tenant]) -> Tenant:
    """The demo shop with a conversation of its own, so exports carry customers' words too."""
    shop = demo_copies["shop"]
    with schema_context(shop.schema_name):
        contact = contact_get_or_create(visitor_id=f"v-{uuid.uuid4().hex}", name="Ada")
        conversation = conversation_start(contact=contact)
        message_receive(conversation=conversation, text="Is the Essential Hoodie warm?", channel_message_id="m1")
    connection.set_schema_to_public()
    return shop


def test_export_then_import_gives_a_new_tenant_with_the_same_data_and_the_same_answers(
        shop_with_talk: Tenant, tmp_path: Path) -> None:
    archive = tmp_path / "shop.tar.gz"
    summary = portability.tenant_export(slug=shop_with_talk.schema_name, output=archive)
    assert summary.row_counts["orders.product"] > 0 and summary.row_counts["chat.message"] > 0

    new_slug = unique_slug()
    created = portability.tenant_import(archive=archive, slug=new_slug, domain=f"{new_slug}.test.localhost")

    assert created.domain.domain == f"{new_slug}.test.localhost"
    assert model_counts(new_slug) == model_counts(shop_with_talk.schema_name)
    assert search_results(new_slug) == search_results(shop_with_talk.schema_name)
    with schema_context(new_slug):
        assert Message.objects.filter(text="Is the Essential Hoodie warm?").exists()
    # The source is untouched, and the two tenants share nothing from now on.
    with schema_context(new_slug):
        Message.objects.all().delete()
    with schema_context(shop_with_talk.schema_name):
        assert Message.objects.filter(text="Is the Essential Hoodie warm?").exists()


def test_a_round_trip_keeps_logins_roles_and_uploaded_files(make_tenant: Callable[..., object],
                                                            tmp_path: Path) -> None:
    created = make_tenant(owner_email="owner@roundtrip.test")
    slug = created.tenant.schema_name  # type: ignore[attr-defined]
    with schema_context(slug):
        owner = User.objects.get(username="owner@roundtrip.test")
        team_member_profile_save(user=owner, display_name="Sam", avatar_upload=PNG)
    archive = tmp_path / "t.tar.gz"
    portability.tenant_export(slug=slug, output=archive)
    with tarfile.open(archive) as tar:
        # The upload is a file of its own in the archive, readable without Deskpilot.
        files = [name for name in tar.getnames() if name.startswith("files/")]
        assert len(files) == 1 and tar.extractfile(files[0]).read() == PNG  # type: ignore[union-attr]

    new_slug = unique_slug()
    portability.tenant_import(archive=archive, slug=new_slug, domain=f"{new_slug}.test.localhost")
    with schema_context(new_slug):
        owner = User.objects.get(username="owner@roundtrip.test")
        assert owner.check_password(created.owner_password)  # type: ignore[attr-defined]
        assert list(owner.groups.values_list("name", flat=True)) == ["owner"]
        assert bytes(TeamMemberProfile.objects.get(user=owner).avatar_image) == PNG
        # New rows get new ids after the imported ones.
        assert User.objects.create(username="new@roundtrip.test").pk > owner.pk


def test_a_damaged_archive_is_refused_and_leaves_no_tenant_behind(make_tenant: Callable[..., object],
                                                                  tmp_path: Path) -> None:
    slug = make_tenant(owner_email="o@damaged.test").tenant.schema_name  # type: ignore[attr-defined]
    good = tmp_path / "good.tar.gz"
    portability.tenant_export(slug=slug, output=good)
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(good) as source, tarfile.open(damaged, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "data/auth.user.jsonl":
                data = data.replace(b"o@damaged.test", b"x@damaged.test")
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))

    new_slug = unique_slug()
    with pytest.raises(portability.ArchiveInvalid, match="checksum"):
        portability.tenant_import(archive=damaged, slug=new_slug, domain=f"{new_slug}.test.localhost")
    assert not schema_exists(new_slug)
    assert not Tenant.objects.filter(schema_name=new_slug).exists()
    with pytest.raises(portability.ArchiveInvalid):
        portability.tenant_import(archive=tmp_path / "missing.tar.gz", slug=new_slug, domain="x.test.localhost")


def test_backup_restores_into_a_new_schema_with_the_same_rows_and_the_same_vector_search(
        shop_with_talk: Tenant, tmp_path: Path) -> None:
    """The drill: back up, restore into a new schema, compare row counts, search both."""
    backup = tmp_path / "shop.backup"
    call_command("tenants", "backup", shop_with_talk.schema_name, "--output", str(backup), stdout=io.StringIO())

    new_slug = unique_slug()
    out = io.StringIO()
    call_command("tenants", "restore", str(backup), "--slug", new_slug, "--domain", f"{new_slug}.test.localhost",
                 stdout=out)
    assert f"as tenant '{new_slug}'" in out.getvalue()

    original = backups.schema_row_counts(shop_with_talk.schema_name)
    restored = backups.schema_row_counts(new_slug)
    assert restored == original and original["chat_message"] > 0 and original["chat_knowledgechunk"] > 0
    assert search_results(new_slug) == search_results(shop_with_talk.schema_name)
    # The restored tenant answers on its own domain.
    assert Tenant.objects.get(schema_name=new_slug).domains.get().domain == f"{new_slug}.test.localhost"


def test_a_damaged_backup_is_refused_before_anything_is_created(demo_copies: dict[str, Tenant],
                                                                 tmp_path: Path) -> None:
    backup = tmp_path / "cafe.backup"
    backups.tenant_backup(slug=demo_copies["cafe"].schema_name, output=backup)
    with tarfile.open(backup) as tar:
        dump = tar.getmember(backups.DUMP_NAME)
    raw = bytearray(backup.read_bytes())
    raw[dump.offset_data + dump.size // 2] ^= 0xFF
    backup.write_bytes(bytes(raw))
    new_slug = unique_slug()
    with pytest.raises(backups.BackupInvalid):
        backups.tenant_restore(archive=backup, slug=new_slug, domain=f"{new_slug}.test.localhost")
    assert not schema_exists(new_slug)
    with pytest.raises(Exception, match="already"):
        backups.tenant_restore(archive=backup, slug=demo_copies["cafe"].schema_name, domain="other.test.localhost")


def test_deletion_suspends_at_once_and_purges_everything_only_after_the_grace_period(
        make_tenant: Callable[..., object], tenant_b: Tenant) -> None:
    tenant = make_tenant().tenant  # type: ignore[attr-defined]
    slug = tenant.schema_name
    redis = redis_client()
    for schema in (slug, tenant_b.schema_name):
        redis.set(tenant_key(schema, "usage", "2026-12"), "1")
        with schema_context(schema):
            cache.set("widget", "cached")
    DeadLetter.objects.create(task_name="t", task_id="x", schema_name=slug, error="e",
                              first_failed_at=timezone.now(), last_failed_at=timezone.now())

    with pytest.raises(Exception, match="confirm"):
        call_command("tenants", "delete", slug, "--confirm", tenant_b.schema_name, stdout=io.StringIO())
    assert Tenant.objects.get(pk=tenant.pk).is_active

    out = io.StringIO()
    call_command("tenants", "delete", slug, "--confirm", slug, stdout=out)
    assert "suspended" in out.getvalue()
    assert not Tenant.objects.get(pk=tenant.pk).is_active
    # Within the grace period nothing is purged, and a cancel brings it back whole.
    assert deletion.tenants_purge_due() == []
    call_command("tenants", "delete", slug, "--cancel", stdout=io.StringIO())
    assert Tenant.objects.get(pk=tenant.pk).is_active and schema_exists(slug)

    call_command("tenants", "delete", slug, "--confirm", slug, stdout=io.StringIO())
    later = timezone.now() + deletion.deletion_grace() + timedelta(minutes=1)
    assert slug in deletion.tenants_purge_due(now=later)

    assert not schema_exists(slug) and not Tenant.objects.filter(schema_name=slug).exists()
    assert redis.get(tenant_key(slug, "usage", "2026-12")) is None
    assert not list(redis.scan_iter(match=f"{slug}:*"))
    assert not DeadLetter.objects.filter(schema_name=slug).exists()
    # Another tenant's keys are untouched.
    assert redis.get(tenant_key(tenant_b.schema_name, "usage", "2026-12")) == "1"
    with schema_context(tenant_b.schema_name):
        assert cache.get("widget") == "cached"
