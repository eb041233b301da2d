#!/bin/sh
# The deploy workflow's AWS steps, runnable by hand with the same credentials:
#   rollout.sh previous-tag ENV       the image tag the stack runs now (the rollback target)
#   rollout.sh migrate ENV SHA        run `migrate` from image SHA as a one-off task and wait for it
#   rollout.sh deploy ENV SHA         cdk deploy the environment's stack at image SHA (ECS waits for
#                                     steady state; the circuit breaker and 5xx alarms roll back)
# Needs: aws CLI, jq, Node.js (npx), the deploy venv (deploy/check.sh installs it), ALARM_EMAIL.
set -eu
cd "$(dirname "$0")"
command="$1"; env_name="$2"; sha="${3:-}"
stack="Deskpilot$(echo "$env_name" | sed 's/./\U&/')"
cdk_cli="npx --yes aws-cdk@2"

output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

case "$command" in
  previous-tag)
    aws cloudformation describe-stacks --stack-name "$stack" \
      --query "Stacks[0].Parameters[?ParameterKey=='ImageTag'].ParameterValue" --output text
    ;;
  migrate)
    family=$(output MigrateTaskFamily)
    # A revision of the migrate task definition with the new image; everything else as deployed.
    definition=$(aws ecs describe-task-definition --task-definition "$family" --query taskDefinition)
    image=$(echo "$definition" | jq -r '.containerDefinitions[0].image' | sed "s/:[^:]*\$/:$sha/")
    revision=$(echo "$definition" | jq --arg image "$image" '.containerDefinitions[0].image = $image
      | {family, taskRoleArn, executionRoleArn, networkMode, containerDefinitions, cpu, memory,
         requiresCompatibilities, runtimePlatform}' \
      | aws ecs register-task-definition --cli-input-json file:///dev/stdin \
          --query taskDefinition.taskDefinitionArn --output text)
    network="awsvpcConfiguration={subnets=[$(output MigrateSubnets)],securityGroups=[$(output MigrateSecurityGroup)],assignPublicIp=DISABLED}"
    task=$(aws ecs run-task --cluster "$(output ClusterName)" --launch-type FARGATE \
      --task-definition "$revision" --network-configuration "$network" --started-by "deploy-$sha" \
      --query 'tasks[0].taskArn' --output text)
    aws ecs wait tasks-stopped --cluster "$(output ClusterName)" --tasks "$task"
    code=$(aws ecs describe-tasks --cluster "$(output ClusterName)" --tasks "$task" \
      --query 'tasks[0].containers[0].exitCode' --output text)
    [ "$code" = "0" ] || { echo "migration task $task exited with $code: nothing was rolled out" >&2; exit 1; }
    ;;
  deploy)
    CDK_CONTEXT_JSON="" $cdk_cli deploy "$stack" --require-approval never \
      --app "../../.data/deploy-venv/bin/python app.py" -c "account=$(aws sts get-caller-identity --query Account --output text)" \
      --parameters "$stack:ImageTag=$sha" --parameters "$stack:AlarmEmail=${ALARM_EMAIL:?set ALARM_EMAIL}"
    ;;
  *)
    echo "usage: rollout.sh previous-tag|migrate|deploy ENV [SHA]" >&2; exit 2
    ;;
esac
