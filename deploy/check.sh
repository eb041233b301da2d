#!/bin/sh
# `make deploy-check` and tests/deploy/: every offline check of deploy/ and the deploy workflow.
# No AWS credentials, no Docker daemon, no network beyond installing the locked tools once:
#   the deploy tools' venv (requirements/deploy.txt, checked against its hashes), Node.js for the CDK
#   (apt-get when missing), then: synth (cdk-nag AwsSolutions fails it on any unacknowledged finding),
#   assertion tests on the templates, cfn-lint (errors), checkov (every failed check not justified in
#   deploy/aws/checkov.yaml), hadolint, the compose file against the compose-spec schema, the workflow
#   against GitHub's workflow schema and zizmor's offline audits.
# DEPLOY_CHECK_STEPS=compose,dockerfile runs only those steps; DEPLOY_CHECK_COMPOSE / _DOCKERFILE /
# _WORKFLOW point a step at another file (the tests feed it broken ones).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-python3.11}
VENV=${DEPLOY_VENV:-$ROOT/.data/deploy-venv}
OUT=${DEPLOY_CHECK_OUT:-$ROOT/.data/deploy-check}
STEPS=${DEPLOY_CHECK_STEPS:-install,synth,assertions,cfn-lint,checkov,dockerfile,compose,workflow}
COMPOSE=${DEPLOY_CHECK_COMPOSE:-deploy/compose.yaml}
DOCKERFILE=${DEPLOY_CHECK_DOCKERFILE:-deploy/Dockerfile}
WORKFLOW=${DEPLOY_CHECK_WORKFLOW:-.github/workflows/deploy.yml}
# jsii runs the CDK's JavaScript on the machine's Node.js; its end-of-life banner is not a finding.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION=1

wants() { case ",$STEPS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
step() { printf '\n== deploy-check: %s\n' "$1"; }
ok() { printf 'deploy-check ok: %s\n' "$1"; }

if wants install; then
  if ! command -v node >/dev/null 2>&1; then
    step "installing Node.js (the CDK's jsii runtime)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null) \
      || { echo "deploy-check: Node.js is missing and could not be installed: apt-get install nodejs" >&2; exit 1; }
  fi
  STAMP="$VENV/.installed"
  if [ ! -f "$STAMP" ] || [ requirements/deploy.txt -nt "$STAMP" ]; then
    step "installing the deploy tools into $VENV"
    test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
      -r requirements/deploy.txt 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true
    "$VENV/bin/python" -c "import aws_cdk, cdk_nag, cfnlint, checkov" && touch "$STAMP"
  fi
  ok install
fi
BIN="$VENV/bin"
CONTEXT=$("$BIN/python" -c "import json; print(json.dumps(json.load(open('deploy/aws/cdk.json'))['context']))")

if wants synth; then
  step "cdk synth (fake account, pinned context) with cdk-nag AwsSolutions"
  rm -rf "$OUT" && mkdir -p "$OUT"
  # No credentials may leak in from the caller: the synth must need none.
  (cd deploy/aws && env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    CDK_OUTDIR="$OUT" CDK_CONTEXT_JSON="$CONTEXT" "$BIN/python" app.py) > "$OUT.synth.log" 2>&1 \
    || { grep -E "ERROR|Acknowledge with|Error" -A2 "$OUT.synth.log" >&2 || cat "$OUT.synth.log" >&2; exit 1; }
  ok "synth DeskpilotStaging DeskpilotProduction, cdk-nag clean"
fi

if wants assertions; then
  step "assertion tests on the synthesized templates"
  DESKPILOT_CDK_OUT="$OUT" "$BIN/python" -m unittest discover -s deploy/aws/tests -t deploy/aws
  ok assertions
fi

# cfn-lint and checkov each take most of a core for half a minute: run side by side.
lint_pid="" checkov_pid=""
if wants cfn-lint; then
  step "cfn-lint (errors fail; warnings are listed in $OUT.cfn-lint.txt)"
  "$BIN/cfn-lint" --format parseable "$OUT"/*.template.json > "$OUT.cfn-lint.txt" 2>&1 &
  lint_pid=$!
fi
if wants checkov; then
  step "checkov (every failed check fails, but those deploy/aws/checkov.yaml justifies)"
  "$BIN/checkov" --config-file deploy/aws/checkov.yaml -f "$OUT/DeskpilotStaging.template.json" \
    -f "$OUT/DeskpilotProduction.template.json" > "$OUT.checkov.txt" 2>&1 &
  checkov_pid=$!
fi
if [ -n "$lint_pid" ]; then
  # Exit status is a bit mask: 2 errors, 4 warnings, 8 informational. Only errors (and crashes) fail.
  rc=0; wait "$lint_pid" || rc=$?
  if [ $((rc & 3)) -ne 0 ]; then grep ":E" "$OUT.cfn-lint.txt" >&2 || cat "$OUT.cfn-lint.txt" >&2; exit 1; fi
  ok "cfn-lint: no errors"
fi
if [ -n "$checkov_pid" ]; then
  wait "$checkov_pid" || { cat "$OUT.checkov.txt" >&2; exit 1; }
  ok "checkov: $(grep -m1 'Passed checks' "$OUT.checkov.txt")"
fi

if wants dockerfile; then
  step "hadolint $DOCKERFILE"
  "$BIN/hadolint" --no-color --failure-threshold info "$DOCKERFILE"
  ok hadolint
fi

if wants compose; then
  step "compose-spec schema: $COMPOSE"
  "$BIN/check-jsonschema" --builtin-schema vendor.compose-spec "$COMPOSE"
  ok compose
fi

if wants workflow; then
  step "GitHub workflow schema and zizmor: $WORKFLOW"
  "$BIN/check-jsonschema" --builtin-schema vendor.github-workflows "$WORKFLOW"
  "$BIN/zizmor" --offline --no-progress --min-severity medium "$WORKFLOW"
  ok workflow
fi

printf '\ndeploy-check: all passed (%s)\n' "$STEPS"
