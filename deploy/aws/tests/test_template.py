"""Assertions on the synthesized templates: one test per requirement of issue #23 item 4.

Run by deploy/check.sh after the synth (the templates' folder in DESKPILOT_CDK_OUT), with the deploy
venv's Python: `python -m unittest discover -s deploy/aws/tests -t deploy/aws`.
"""

import ast
import json
import os
import re
import unittest
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Match, Template

OUT = Path(os.environ.get("DESKPILOT_CDK_OUT", "deploy/aws/cdk.out"))
# The application's side of the contracts (no Django here: its sources are read, not imported).
REPO = Path(__file__).resolve().parents[3]


def _load(name: str) -> tuple[dict[str, Any], Template]:
    raw = json.loads((OUT / f"{name}.template.json").read_text())
    return raw, Template.from_json(raw)


RAW, PROD = _load("DeskpilotProduction")
RAW_STAGING, STAGING = _load("DeskpilotStaging")


def resources(raw: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in raw["Resources"].items() if value["Type"] == kind}


def props(raw: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [value.get("Properties", {}) for value in resources(raw, kind).values()]


def service(raw: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [p for p in props(raw, "AWS::ECS::Service") if p.get("ServiceName") == name]
    return found


def task_of(raw: dict[str, Any], service_props: dict[str, Any]) -> dict[str, Any]:
    return raw["Resources"][service_props["TaskDefinition"]["Ref"]]["Properties"]


def alarm(raw: dict[str, Any], suffix: str) -> dict[str, Any]:
    [found] = [p for p in props(raw, "AWS::CloudWatch::Alarm") if p["AlarmName"].endswith(f"-{suffix}")]
    return found


class Network(unittest.TestCase):
    def test_vpc_spans_two_or_more_zones_with_public_private_and_isolated_subnets(self) -> None:
        for raw in (RAW, RAW_STAGING):
            subnets = props(raw, "AWS::EC2::Subnet")
            kinds: dict[str, set[str]] = {}
            for subnet in subnets:
                kind = next(t["Value"] for t in subnet["Tags"] if t["Key"] == "aws-cdk:subnet-name")
                kinds.setdefault(kind, set()).add(subnet["AvailabilityZone"])
            self.assertEqual(set(kinds), {"public", "private", "isolated"})
            for zones in kinds.values():
                self.assertGreaterEqual(len(zones), 2)

    def test_flow_logs_capture_all_traffic_into_a_30_day_log_group(self) -> None:
        PROD.has_resource_properties("AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs"})

    def test_only_the_load_balancer_reaches_web_and_only_services_reach_the_stores(self) -> None:
        ingress = props(RAW, "AWS::EC2::SecurityGroupIngress")
        by_target: dict[str, set[str]] = {}
        for rule in ingress:
            target = rule["GroupId"]["Fn::GetAtt"][0]
            source = rule["SourceSecurityGroupId"]["Fn::GetAtt"][0]
            by_target.setdefault(target, set()).add(source)
        web, alb, worker = (self._sg("WebSg"), self._sg("AlbSg"), self._sg("WorkerSg"))
        self.assertEqual(by_target[web], {alb})
        self.assertEqual(by_target[self._sg("DatabaseSg")], {web, worker})
        self.assertEqual(by_target[self._sg("RedisSg")], {web, worker})
        # No inline rule lets anything else in either.
        for name in ("WebSg", "DatabaseSg", "RedisSg", "WorkerSg"):
            self.assertNotIn("SecurityGroupIngress", RAW["Resources"][self._sg(name)]["Properties"])

    def test_service_egress_is_https_dns_and_the_stores_only(self) -> None:
        for name in ("WebSg", "WorkerSg"):
            sg = self._sg(name)
            inline = RAW["Resources"][sg]["Properties"].get("SecurityGroupEgress", [])
            separate = [p for p in props(RAW, "AWS::EC2::SecurityGroupEgress") if p["GroupId"]["Fn::GetAtt"][0] == sg]
            ports = {(r["IpProtocol"], r["FromPort"]) for r in inline + separate}
            self.assertEqual(ports, {("tcp", 443), ("udp", 53), ("tcp", 53), ("tcp", 5432), ("tcp", 6379), ("tcp", 587)})
            anywhere = {r["FromPort"] for r in inline if r.get("CidrIp") == "0.0.0.0/0"}
            self.assertEqual(anywhere, {443})

    def test_dns_firewall_blocks_names_outside_the_allow_list(self) -> None:
        [group] = props(RAW, "AWS::Route53Resolver::FirewallRuleGroup")
        actions = sorted((rule["Priority"], rule["Action"]) for rule in group["FirewallRules"])
        self.assertEqual(actions, [(100, "ALLOW"), (200, "BLOCK")])
        PROD.has_resource_properties("AWS::Route53Resolver::FirewallDomainList", {"Domains": ["*"]})
        PROD.resource_count_is("AWS::Route53Resolver::FirewallRuleGroupAssociation", 1)

    def test_aws_apis_are_reached_through_vpc_endpoints(self) -> None:
        names = json.dumps([p["ServiceName"] for p in props(RAW, "AWS::EC2::VPCEndpoint")])
        for service_name in ("ecr.api", "ecr.dkr", "logs", "secretsmanager", "monitoring", "email-smtp", "s3"):
            self.assertIn(service_name, names)

    @staticmethod
    def _sg(logical_prefix: str) -> str:
        [key] = [k for k in resources(RAW, "AWS::EC2::SecurityGroup") if k.startswith(logical_prefix)]
        return key


class LoadBalancer(unittest.TestCase):
    def test_https_listener_with_tls_and_http_redirects_to_https(self) -> None:
        PROD.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {
            "Port": 443, "Protocol": "HTTPS", "Certificates": Match.any_value(), "SslPolicy": Match.string_like_regexp("TLS13"),
        })
        PROD.has_resource_properties("AWS::ElasticLoadBalancingV2::Listener", {
            "Port": 80, "Protocol": "HTTP",
            "DefaultActions": [Match.object_like({"Type": "redirect", "RedirectConfig": Match.object_like(
                {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"})})],
        })

    def test_idle_timeout_lets_websockets_stay_open_300_seconds(self) -> None:
        [alb] = props(RAW, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
        self.assertGreaterEqual(int(attributes["idle_timeout.timeout_seconds"]), 300)
        self.assertEqual(attributes["routing.http.drop_invalid_header_fields.enabled"], "true")

    def test_a_new_web_task_is_given_its_share_of_requests_over_60_seconds(self) -> None:
        [group] = props(RAW, "AWS::ElasticLoadBalancingV2::TargetGroup")
        attributes = {a["Key"]: a["Value"] for a in group["TargetGroupAttributes"]}
        self.assertEqual(attributes["slow_start.duration_seconds"], "60")
        self.assertNotIn(attributes.get("load_balancing.algorithm.type"), ("least_outstanding_requests",
                                                                           "weighted_random"))

    def test_health_check_on_readyz_30s_5s_3_and_300s_grace(self) -> None:
        PROD.has_resource_properties("AWS::ElasticLoadBalancingV2::TargetGroup", {
            "HealthCheckPath": "/readyz", "HealthCheckIntervalSeconds": 30, "HealthCheckTimeoutSeconds": 5,
            "UnhealthyThresholdCount": 3, "Port": 8000,
        })
        self.assertEqual(service(RAW, "web")["HealthCheckGracePeriodSeconds"], 300)


class Services(unittest.TestCase):
    def test_web_scales_2_to_10_on_cpu_50_with_300s_in_and_60s_out(self) -> None:
        PROD.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {
            "MinCapacity": 2, "MaxCapacity": 10, "ScalableDimension": "ecs:service:DesiredCount",
        })
        PROD.has_resource_properties("AWS::ApplicationAutoScaling::ScalingPolicy", {
            "TargetTrackingScalingPolicyConfiguration": {
                "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"},
                "TargetValue": 50, "ScaleInCooldown": 300, "ScaleOutCooldown": 60,
            },
        })

    def test_one_worker_service_per_queue_group_with_its_queues(self) -> None:
        for name, queues in (("worker-critical-high", "critical,high"), ("worker-medium", "medium"), ("worker-low", "low")):
            [container] = task_of(RAW, service(RAW, name))["ContainerDefinitions"]
            self.assertEqual(container["Command"], ["worker", queues])

    def test_worker_groups_scale_on_the_published_queue_backlog_per_task(self) -> None:
        policies = [p for p in props(RAW, "AWS::ApplicationAutoScaling::ScalingPolicy")
                    if "CustomizedMetricSpecification" in p.get("TargetTrackingScalingPolicyConfiguration", {})]
        self.assertEqual(len(policies), 3)
        for policy in policies:
            config = policy["TargetTrackingScalingPolicyConfiguration"]
            metrics = config["CustomizedMetricSpecification"]["Metrics"]
            published = [m["MetricStat"]["Metric"] for m in metrics if "MetricStat" in m
                         and m["MetricStat"]["Metric"]["Namespace"] == "Deskpilot"]
            self.assertTrue(published)
            for metric in published:
                self.assertEqual(metric["MetricName"], "QueueBacklog")
                self.assertEqual({d["Name"] for d in metric["Dimensions"]}, {"Environment", "Queue"})
            [result] = [m for m in metrics if m.get("ReturnData")]
            self.assertIn("/ IF(tasks > 0, tasks, 1)", result["Expression"])
        queues = sorted(d["Value"] for p in policies for m in p["TargetTrackingScalingPolicyConfiguration"]
                        ["CustomizedMetricSpecification"]["Metrics"] if "MetricStat" in m
                        for d in m["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "Queue")
        self.assertEqual(queues, ["critical", "high", "low", "medium"])

    def test_low_group_runs_on_fargate_spot_and_the_others_on_fargate(self) -> None:
        self.assertEqual(service(RAW, "worker-low")["CapacityProviderStrategy"][0]["CapacityProvider"], "FARGATE_SPOT")
        for name in ("worker-critical-high", "worker-medium"):
            self.assertEqual(service(RAW, name)["CapacityProviderStrategy"][0]["CapacityProvider"], "FARGATE")

    def test_beat_is_exactly_one_task_never_two_during_a_deploy(self) -> None:
        beat = service(RAW, "beat")
        self.assertEqual(beat["DesiredCount"], 1)
        self.assertEqual(beat["DeploymentConfiguration"]["MaximumPercent"], 100)
        self.assertEqual(beat["DeploymentConfiguration"]["MinimumHealthyPercent"], 0)
        self.assertEqual(task_of(RAW, beat)["ContainerDefinitions"][0]["Command"], ["beat"])

    def test_a_migration_task_definition_exists_for_the_workflow_to_run_before_rollout(self) -> None:
        PROD.has_resource_properties("AWS::ECS::TaskDefinition", {
            "Family": "deskpilot-production-migrate",
            "ContainerDefinitions": [Match.object_like({"Command": ["migrate"]})],
        })
        self.assertIn("MigrateTaskFamily", RAW["Outputs"])

    def test_every_service_rolls_back_on_the_circuit_breaker_and_on_the_5xx_alarms(self) -> None:
        for svc in props(RAW, "AWS::ECS::Service"):
            config = svc["DeploymentConfiguration"]
            self.assertEqual(config["DeploymentCircuitBreaker"], {"Enable": True, "Rollback": True})
            self.assertEqual(config["Alarms"]["Enable"], True)
            self.assertEqual(config["Alarms"]["Rollback"], True)
            names = json.dumps(config["Alarms"]["AlarmNames"])
            self.assertIn("5xx", names)

    def test_tasks_run_on_graviton(self) -> None:
        for task in props(RAW, "AWS::ECS::TaskDefinition"):
            self.assertEqual(task["RuntimePlatform"]["CpuArchitecture"], "ARM64")
        self.assertTrue(json.loads(json.dumps(props(RAW, "AWS::RDS::DBInstance")))[0]["DBInstanceClass"].startswith("db.r7g"))
        self.assertTrue(props(RAW, "AWS::ElastiCache::ReplicationGroup")[0]["CacheNodeType"].startswith("cache.r7g"))

    def test_every_secret_is_injected_from_secrets_manager_never_as_plain_environment(self) -> None:
        secret_names = {"DATABASE_USER", "DATABASE_PASSWORD", "REDIS_AUTH_TOKEN", "DJANGO_SECRET_KEY",
                        "DESKPILOT_SECRETS_KEYS", "OPENAI_API_KEY", "EMBEDDING_API_KEY", "EMAIL_URL"}
        for task in props(RAW, "AWS::ECS::TaskDefinition"):
            for container in task["ContainerDefinitions"]:
                injected = {s["Name"]: s["ValueFrom"] for s in container["Secrets"]}
                self.assertEqual(set(injected), secret_names)
                plain = {e["Name"] for e in container["Environment"]}
                self.assertFalse(plain & secret_names)
                self.assertFalse({"DATABASE_URL", "REDIS_URL"} & plain)
        self.assertEqual(len(props(RAW, "AWS::SecretsManager::Secret")), 5)

    def test_log_groups_keep_30_days(self) -> None:
        groups = props(RAW, "AWS::Logs::LogGroup")
        self.assertGreaterEqual(len(groups), 10)
        for group in groups:
            self.assertEqual(group["RetentionInDays"], 30)


class Stores(unittest.TestCase):
    def test_postgres_16_multi_az_encrypted_35_day_backups_protected_with_insights(self) -> None:
        PROD.has_resource_properties("AWS::RDS::DBInstance", {
            "Engine": "postgres", "EngineVersion": Match.string_like_regexp("^16"), "MultiAZ": True,
            "StorageEncrypted": True, "BackupRetentionPeriod": 35, "DeletionProtection": True,
            "EnablePerformanceInsights": True,
        })

    def test_parameter_group_bounds_statements_and_forces_tls(self) -> None:
        PROD.has_resource_properties("AWS::RDS::DBParameterGroup", {
            "Family": "postgres16",
            "Parameters": Match.object_like({"statement_timeout": "30000", "rds.force_ssl": "1"}),
        })

    def test_database_lives_in_isolated_subnets(self) -> None:
        [group] = props(RAW, "AWS::RDS::DBSubnetGroup")
        isolated = {k for k, v in resources(RAW, "AWS::EC2::Subnet").items() if "isolated" in k}
        self.assertEqual({ref["Ref"] for ref in group["SubnetIds"]}, isolated)

    def test_redis_is_replicated_with_tls_encryption_and_auth(self) -> None:
        PROD.has_resource_properties("AWS::ElastiCache::ReplicationGroup", {
            "NumCacheClusters": 2, "AutomaticFailoverEnabled": True, "MultiAZEnabled": True,
            "TransitEncryptionEnabled": True, "AtRestEncryptionEnabled": True,
        })
        [group] = props(RAW, "AWS::ElastiCache::ReplicationGroup")
        # A dynamic reference CloudFormation resolves at deploy time: the token is in no template.
        self.assertIn("{{resolve:secretsmanager:", json.dumps(group["AuthToken"]))


class Firewall(unittest.TestCase):
    def test_waf_on_the_alb_with_managed_rule_groups(self) -> None:
        [acl] = props(RAW, "AWS::WAFv2::WebACL")
        managed = {r["Statement"]["ManagedRuleGroupStatement"]["Name"] for r in acl["Rules"]
                   if "ManagedRuleGroupStatement" in r["Statement"]}
        self.assertTrue({"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet",
                         "AWSManagedRulesAmazonIpReputationList"} <= managed)
        PROD.resource_count_is("AWS::WAFv2::WebACLAssociation", 1)
        [logging] = props(RAW, "AWS::WAFv2::LoggingConfiguration")
        # WAF refuses a log group ARN ending in ":*" (CDK's log_group_arn) at deploy time.
        self.assertNotIn(":*", json.dumps(logging["LogDestinationConfigs"]))

    def test_rate_rule_100_per_ip_per_minute_on_login_and_api_paths_sockets_exempt(self) -> None:
        [acl] = props(RAW, "AWS::WAFv2::WebACL")
        [rule] = [r for r in acl["Rules"] if "RateBasedStatement" in r["Statement"]]
        rate = rule["Statement"]["RateBasedStatement"]
        self.assertEqual((rate["Limit"], rate["EvaluationWindowSec"], rate["AggregateKeyType"]), (100, 60, "IP"))
        self.assertIn("Block", rule["Action"])
        [paths, exempt] = rate["ScopeDownStatement"]["AndStatement"]["Statements"]
        limited = {s["ByteMatchStatement"]["SearchString"] for s in paths["OrStatement"]["Statements"]}
        self.assertTrue({"/app/login", "/admin/login", "/api/", "/v1/"} <= limited)
        self.assertEqual(exempt["NotStatement"]["Statement"]["ByteMatchStatement"]["SearchString"], "/ws/")


class Alarms(unittest.TestCase):
    def test_alarms_reach_a_person_by_email_given_as_a_parameter(self) -> None:
        self.assertIn("AlarmEmail", RAW["Parameters"])
        PROD.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}})
        for each in props(RAW, "AWS::CloudWatch::Alarm"):
            self.assertEqual(len(each["AlarmActions"]), 1)
            self.assertIn("Runbook: docs/runbooks/", each["AlarmDescription"])

    def test_running_tasks_below_one_for_every_service(self) -> None:
        for name in ("web", "beat", "worker-critical-high", "worker-medium", "worker-low"):
            found = alarm(RAW, f"{name}-running-tasks")
            self.assertEqual((found["MetricName"], found["Threshold"], found["ComparisonOperator"]),
                             ("RunningTaskCount", 1, "LessThanThreshold"))

    def test_staging_at_night_is_not_a_service_down(self) -> None:
        found = alarm(RAW_STAGING, "web-running-tasks")
        self.assertEqual((found["Threshold"], found["ComparisonOperator"]), (1, "LessThanThreshold"))
        [expression] = [m["Expression"] for m in found["Metrics"] if "Expression" in m]
        self.assertEqual(expression, "IF(desired >= 1, running, 1)")

    def test_5xx_above_5_percent_or_above_10_in_60_seconds(self) -> None:
        rate = alarm(RAW, "5xx-rate")
        self.assertEqual((rate["Threshold"], rate["ComparisonOperator"]), (5, "GreaterThanThreshold"))
        self.assertIn("100 * (t5 + e5)", json.dumps(rate["Metrics"]))
        count = alarm(RAW, "5xx-count")
        self.assertEqual(count["Threshold"], 10)
        periods = {m["MetricStat"]["Period"] for m in count["Metrics"] if "MetricStat" in m}
        self.assertEqual(periods, {60})

    def test_p95_latency_above_2_seconds_twice(self) -> None:
        found = alarm(RAW, "p95-latency")
        self.assertEqual((found["ExtendedStatistic"], found["Threshold"], found["EvaluationPeriods"],
                          found["DatapointsToAlarm"]), ("p95", 2, 2, 2))

    def test_rds_cpu_connections_and_free_storage(self) -> None:
        self.assertEqual(alarm(RAW, "rds-cpu")["Threshold"], 80)
        self.assertEqual(alarm(RAW, "rds-connections")["Threshold"], 0.8 * 1600)
        PROD.has_resource_properties("AWS::RDS::DBParameterGroup",
                                     {"Parameters": Match.object_like({"max_connections": "1600"})})
        storage = alarm(RAW, "rds-free-storage")
        self.assertEqual((storage["Threshold"], storage["ComparisonOperator"]), (0.2 * 100 * 1024**3, "LessThanThreshold"))

    def test_dead_letters_above_zero_and_oldest_task_age_per_queue(self) -> None:
        dead = alarm(RAW, "dead-letters")
        self.assertEqual((dead["Namespace"], dead["MetricName"], dead["Threshold"]), ("Deskpilot", "DeadLetters", 0))
        for queue in ("critical", "high", "medium", "low"):
            oldest = alarm(RAW, f"oldest-task-{queue}")
            self.assertEqual(oldest["MetricName"], "QueueOldestTaskAge")
            self.assertIn({"Name": "Queue", "Value": queue}, oldest["Dimensions"])

    def test_redis_memory_on_both_nodes(self) -> None:
        for node in ("001", "002"):
            found = alarm(RAW, f"redis-memory-{node}")
            self.assertEqual((found["MetricName"], found["Threshold"]), ("DatabaseMemoryUsagePercentage", 80))

    def test_a_dashboard(self) -> None:
        PROD.has_resource_properties("AWS::CloudWatch::Dashboard", {"DashboardName": "deskpilot-production"})


class Environments(unittest.TestCase):
    def test_staging_and_production_are_one_stack_at_two_sizes(self) -> None:
        kinds = sorted(v["Type"] for v in RAW["Resources"].values() if not v["Type"].startswith("AWS::ApplicationAutoScaling"))
        kinds_staging = sorted(v["Type"] for v in RAW_STAGING["Resources"].values()
                               if not v["Type"].startswith("AWS::ApplicationAutoScaling"))
        self.assertEqual(set(kinds), set(kinds_staging))
        self.assertNotEqual(props(RAW, "AWS::RDS::DBInstance")[0]["DBInstanceClass"],
                            props(RAW_STAGING, "AWS::RDS::DBInstance")[0]["DBInstanceClass"])
        self.assertEqual(task_of(RAW_STAGING, service(RAW_STAGING, "web"))["Cpu"], "512")
        self.assertEqual(task_of(RAW, service(RAW, "web"))["Cpu"], "1024")

    def test_staging_scales_to_zero_outside_business_hours_production_never(self) -> None:
        staging = json.dumps(props(RAW_STAGING, "AWS::ApplicationAutoScaling::ScalableTarget"))
        self.assertIn('"ScalableTargetAction": {"MaxCapacity": 0, "MinCapacity": 0}', staging)
        self.assertNotIn("ScheduledActions", json.dumps(props(RAW, "AWS::ApplicationAutoScaling::ScalableTarget")))


if __name__ == "__main__":
    unittest.main()


def published_by_the_app() -> tuple[set[str], set[str]]:
    """The metric and dimension names config/cloudwatch.py puts into its PutMetricData (decision 1801)."""
    tree = ast.parse((REPO / "config/cloudwatch.py").read_text())
    names: dict[str, set[str]] = {"MetricName": set(), "Name": set()}
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in names and isinstance(value, ast.Constant):
                    names[key.value].add(value.value)
    return names["MetricName"], names["Name"]


class TheAppAndTheStackSpeakOneContract(unittest.TestCase):
    """Decisions 1701 and 1801: what the stack reads is what the application publishes and is configured by."""

    def deskpilot_metrics(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        found = [p for p in props(raw, "AWS::CloudWatch::Alarm") if p.get("Namespace") == "Deskpilot"]
        for policy in props(raw, "AWS::ApplicationAutoScaling::ScalingPolicy"):
            spec = policy.get("TargetTrackingScalingPolicyConfiguration", {}).get("CustomizedMetricSpecification", {})
            found += [m["MetricStat"]["Metric"] for m in spec.get("Metrics", []) if "MetricStat" in m
                      and m["MetricStat"]["Metric"]["Namespace"] == "Deskpilot"]
        return found

    def test_every_platform_metric_the_stack_reads_is_one_the_app_publishes(self) -> None:
        metric_names, dimension_names = published_by_the_app()
        self.assertEqual(metric_names, {"QueueBacklog", "QueueBacklogPerTask", "QueueOldestTaskAge", "DeadLetters"})
        for raw, env_name in ((RAW, "production"), (RAW_STAGING, "staging")):
            read = self.deskpilot_metrics(raw)
            self.assertEqual({m["MetricName"] for m in read}, {"QueueBacklog", "QueueOldestTaskAge", "DeadLetters"})
            for metric in read:
                self.assertLessEqual({d["Name"] for d in metric["Dimensions"]}, dimension_names)
                self.assertIn({"Name": "Environment", "Value": env_name}, metric["Dimensions"])

    def test_the_tasks_turn_the_publisher_on_with_the_apps_own_setting_names(self) -> None:
        for raw, env_name in ((RAW, "production"), (RAW_STAGING, "staging")):
            for task in props(raw, "AWS::ECS::TaskDefinition"):
                [container] = task["ContainerDefinitions"]
                plain = {e["Name"]: e["Value"] for e in container["Environment"]}
                self.assertEqual(plain["CLOUDWATCH_METRICS_REGION"], "eu-west-1")
                self.assertEqual(plain["CLOUDWATCH_METRICS_ENVIRONMENT"], env_name)

    def test_every_variable_the_tasks_get_is_one_the_app_reads(self) -> None:
        documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (REPO / ".env.example").read_text(), re.MULTILINE))
        entrypoint = (REPO / "deploy/entrypoint.sh").read_text()
        for task in props(RAW, "AWS::ECS::TaskDefinition"):
            [container] = task["ContainerDefinitions"]
            for name in [e["Name"] for e in container["Environment"]] + [s["Name"] for s in container["Secrets"]]:
                with self.subTest(name=name):
                    self.assertTrue(name in documented or "${" + name in entrypoint,
                                    f"{name} is neither an application setting (.env.example) nor read by the entrypoint")

    def test_only_the_worker_running_the_publisher_may_put_metrics_and_only_in_its_namespace(self) -> None:
        policies = resources(RAW, "AWS::IAM::Policy")
        granted = {}
        for key, policy in policies.items():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                if "cloudwatch:PutMetricData" in actions:
                    self.assertEqual(statement["Condition"], {"StringEquals": {"cloudwatch:namespace": "Deskpilot"}})
                    for role in policy["Properties"]["Roles"]:
                        granted[role["Ref"]] = key
        task = task_of(RAW, service(RAW, "worker-critical-high"))
        self.assertEqual(set(granted), {task["TaskRoleArn"]["Fn::GetAtt"][0]})
