"""The image's entrypoint and build context, as ECS and compose use them (no Docker daemon needed)."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"


def _entrypoint(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items()
             if not key.startswith(("DATABASE_", "REDIS_"))}
    return subprocess.run(["sh", str(ENTRYPOINT), *args], capture_output=True, text=True, timeout=30,
                          env={**clean, **env})


def test_ecs_secrets_become_the_store_urls_with_tls_required() -> None:
    # What ECS injects: the parts, each from Secrets Manager or the stack; never a URL.
    result = _entrypoint(
        "env", DATABASE_USER="deskpilot", DATABASE_PASSWORD="s3cretPassw0rd", DATABASE_HOST="db.internal",
        DATABASE_PORT="5432", DATABASE_NAME="deskpilot", REDIS_AUTH_TOKEN="t0ken", REDIS_HOST="redis.internal",
        REDIS_PORT="6379",
    )
    assert result.returncode == 0, result.stderr
    lines = set(result.stdout.splitlines())
    assert "DATABASE_URL=postgres://deskpilot:s3cretPassw0rd@db.internal:5432/deskpilot?sslmode=require" in lines
    assert "REDIS_URL=rediss://:t0ken@redis.internal:6379/0?ssl_cert_reqs=required" in lines


def test_a_url_given_outright_is_kept() -> None:
    result = _entrypoint("env", DATABASE_URL="postgres://a:b@c/d", DATABASE_PASSWORD="ignored",
                         REDIS_URL="redis://redis:6379/0")
    assert result.returncode == 0, result.stderr
    assert "DATABASE_URL=postgres://a:b@c/d" in result.stdout.splitlines()
    assert "REDIS_URL=redis://redis:6379/0" in result.stdout.splitlines()


def test_a_worker_without_its_queue_group_refuses_to_start() -> None:
    result = _entrypoint("worker")
    assert result.returncode != 0
    assert "usage: worker QUEUES" in result.stderr


def test_the_image_takes_no_developer_files_and_no_test_tools() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", ".data", ".env", ".git", "tests", "test-artifacts"} <= ignored
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "requirements/base.txt" in dockerfile and "dev.txt" not in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/readyz" in dockerfile
    assert "USER 10001" in dockerfile and 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in dockerfile
