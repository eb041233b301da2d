"""`make deploy-check` inside the suite: the same script, on the repository's deploy files, offline.

The script installs its own locked tools (.data/deploy-venv) on first use; `make test` installs them
before the suite starts, so here it only checks: synth with cdk-nag, the template assertions, cfn-lint,
checkov, hadolint, the compose schema and the workflow linters. The second test feeds the file
checks broken files, so a check that stopped looking would be noticed.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "check.sh"


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=840,
        env={**os.environ, "PYTHON": sys.executable, "DEPLOY_CHECK_OUT": str(tmp_path / "cdk.out"), **env},
    )


@pytest.mark.timeout(900)
def test_every_deploy_check_passes_offline(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    for check in ("install", "synth", "assertions", "cfn-lint", "checkov", "hadolint", "compose", "workflow"):
        assert f"deploy-check ok: {check}" in result.stdout, result.stdout[-4000:]
    # Both environments were synthesized, with every requirement's assertion run against them.
    assert {p.name for p in (tmp_path / "cdk.out").glob("*.template.json")} == {
        "DeskpilotStaging.template.json", "DeskpilotProduction.template.json"}
    ran = re.search(r"Ran (\d+) tests", result.stderr)
    assert ran and int(ran.group(1)) >= 36 and "\nOK" in result.stderr, result.stderr[-4000:]
    assert "Failed checks: 0" in result.stdout


@pytest.mark.timeout(300)
def test_broken_compose_dockerfile_and_workflow_are_each_refused(tmp_path: Path) -> None:
    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    broken_compose = tmp_path / "compose.yaml"
    # A misspelt key (`depend_on`): compose would refuse the file, or start web before its migrations.
    broken_compose.write_text(compose.replace("    depends_on:\n      web:", "    depend_on:\n      web:", 1))
    broken_dockerfile = tmp_path / "Dockerfile"
    # Runs as root from an unpinned base and an unpinned, cached apt install.
    broken_dockerfile.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\nCMD python\n")
    workflow = (ROOT / ".github" / "workflows" / "deploy.yml").read_text()
    broken_workflow = tmp_path / "deploy.yml"
    # An action by moving tag: zizmor refuses a deploy workflow that a retagged action could hijack.
    broken_workflow.write_text(workflow.replace(
        "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2", "actions/checkout@main", 1))

    cases = {
        "compose": ({"DEPLOY_CHECK_COMPOSE": str(broken_compose)}, "depend_on"),
        "dockerfile": ({"DEPLOY_CHECK_DOCKERFILE": str(broken_dockerfile)}, "DL3008"),
        "workflow": ({"DEPLOY_CHECK_WORKFLOW": str(broken_workflow)}, "unpinned"),
    }
    for step, (env, finding) in cases.items():
        result = _run(tmp_path, DEPLOY_CHECK_STEPS=step, **env)
        assert result.returncode != 0, f"{step} accepted a broken file:\n{result.stdout}"
        assert finding in result.stdout + result.stderr, result.stdout + result.stderr
        assert f"deploy-check ok: {step}" not in result.stdout
