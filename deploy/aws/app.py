"""`cdk synth` / `cdk deploy`: staging and production, the same stack at two sizes, checked by cdk-nag.

Without AWS credentials (make deploy-check) the account and the availability zones come from cdk.json's
pinned context; a real deploy passes `-c account=<id>` and the environment's certificate ARN.
"""

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from deskpilot_cdk.sizes import PRODUCTION, STAGING
from deskpilot_cdk.stack import DeskpilotStack


def build_app() -> cdk.App:
    app = cdk.App()
    account = app.node.get_context("account")
    region = app.node.get_context("region")
    for sizes in (STAGING, PRODUCTION):
        DeskpilotStack(
            app, f"Deskpilot{sizes.environment.title()}", sizes=sizes,
            env=cdk.Environment(account=account, region=region),
            description=f"Deskpilot {sizes.environment}: ECS Fargate, RDS PostgreSQL, ElastiCache Redis, ALB, WAF",
            termination_protection=sizes.environment == "production",
        )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
    return app


def main() -> int:
    assembly = build_app().synth()
    # cdk-nag's unacknowledged findings already fail synth() (a validation plugin); any other error
    # annotation (a construct's own) fails it here.
    errors = [(stack.stack_name, message.id, message.entry.data) for stack in assembly.stacks
              for message in stack.messages if message.level.value == "error"]
    for stack_name, path, data in errors:
        print(f"{stack_name} {path}: {data}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
