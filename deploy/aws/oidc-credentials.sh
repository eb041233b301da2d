#!/bin/sh
# GitHub Actions → AWS without stored keys: exchange the job's OIDC token for the role's short-lived
# credentials and hand them to the following steps through $GITHUB_ENV.
#   oidc-credentials.sh ROLE_ARN REGION     (the job needs `permissions: id-token: write`)
set -eu
role="$1"; region="$2"
token=$(curl -fsS -H "Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN" \
  "$ACTIONS_ID_TOKEN_REQUEST_URL&audience=sts.amazonaws.com" | jq -r .value)
echo "::add-mask::$token"
credentials=$(aws sts assume-role-with-web-identity --role-arn "$role" --role-session-name "deploy-$GITHUB_RUN_ID" \
  --web-identity-token "$token" --duration-seconds 3600 --query Credentials --output json)
for pair in "AWS_ACCESS_KEY_ID AccessKeyId" "AWS_SECRET_ACCESS_KEY SecretAccessKey" "AWS_SESSION_TOKEN SessionToken"; do
  set -- $pair
  value=$(echo "$credentials" | jq -r ".$2")
  echo "::add-mask::$value"
  echo "$1=$value" >> "$GITHUB_ENV"
done
echo "AWS_REGION=$region" >> "$GITHUB_ENV"
echo "AWS_DEFAULT_REGION=$region" >> "$GITHUB_ENV"
