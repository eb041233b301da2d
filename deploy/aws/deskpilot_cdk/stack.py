"""The whole of one Deskpilot environment: network, stores, services, firewall, alarms, dashboard.

Staging and production are two instances of this class with different `Sizes`: what is tested on
staging is the production shape. Decision records 1701-1704 say why the pieces are as they are.
"""

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_route53resolver as resolver
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from .sizes import Sizes

# The platform's own metrics (decision 1701): a beat task publishes them every minute.
METRICS_NAMESPACE = "Deskpilot"
QUEUES = ("critical", "high", "medium", "low")
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
WEB_PORT = 8000
# Characters that would need escaping inside a postgres:// or rediss:// URL built by the entrypoint.
URL_UNSAFE = " %+~`#$&*()|[]{}:;<>?!'/@\"\\,="
# Paths the WAF's rate rule counts: logins and the APIs (sockets under /ws/ have their own limits).
RATE_LIMITED_PATHS = ("/app/login", "/admin/login", "/api/", "/v1/")
SOCKET_PATH = "/ws/"
# Where the services may reach by name; every other name resolves to nothing (decision 1703).
DEFAULT_EGRESS_DOMAINS = (
    "amazonaws.com.",
    "*.amazonaws.com.",
    "api.openai.com.",
    "*.myshopify.com.",
    "api.telegram.org.",
    "graph.facebook.com.",
)


def _suppress(construct: Construct, *rules: tuple[str, str]) -> None:
    """Acknowledge cdk-nag findings on a construct and its children, each with the reason it is accepted."""
    for rule, reason in rules:
        cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=f"AwsSolutions::{rule}", reason=reason))


class DeskpilotStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, sizes: Sizes, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.sizes = sizes
        env_name = sizes.environment

        # --- Parameters: what changes per deploy, or per operator ---------------------------------------
        self.image_tag = cdk.CfnParameter(
            self, "ImageTag", type="String", allowed_pattern="^[0-9a-f]{7,40}$",
            description="The git SHA the image in ECR is tagged with (the workflow passes it).",
        )
        self.alarm_email = cdk.CfnParameter(
            self, "AlarmEmail", type="String", allowed_pattern="^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$",
            description="Who receives the alarms (an SNS e-mail subscription to confirm once).",
        )
        domain = self.node.try_get_context(f"{env_name}:domain") or f"{env_name}.deskpilot.example"
        certificate_arn = self.node.get_context(f"{env_name}:certificateArn")
        repository_name = self.node.try_get_context("ecrRepository") or "deskpilot"

        self._network(env_name)
        self._secrets(env_name)
        self._database(env_name)
        self._redis(env_name)
        self._cluster_and_services(env_name, domain=domain, repository_name=repository_name)
        self._load_balancer(env_name, certificate_arn=certificate_arn)
        self._firewall(env_name)
        self._alarms(env_name)
        self._dashboard(env_name)
        self._outputs()

    # --- Network -------------------------------------------------------------------------------------------
    def _network(self, env_name: str) -> None:
        self.vpc = ec2.Vpc(
            self, "Vpc",
            max_azs=self.sizes.max_azs,
            nat_gateways=self.sizes.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
            restrict_default_security_group=True,
        )
        flow_log_group = logs.LogGroup(self, "FlowLogs", retention=LOG_RETENTION,
                                       removal_policy=cdk.RemovalPolicy.RETAIN)
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        # AWS APIs the tasks call stay inside the VPC: image layers, logs, secrets, metrics, mail.
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        self.endpoint_sg = ec2.SecurityGroup(self, "EndpointsSg", vpc=self.vpc, allow_all_outbound=False,
                                             description="Interface endpoints: HTTPS and SMTP from the VPC")
        self.endpoint_sg.add_ingress_rule(ec2.Peer.ipv4(self.vpc.vpc_cidr_block), ec2.Port.tcp(443), "HTTPS from the VPC")
        self.endpoint_sg.add_ingress_rule(ec2.Peer.ipv4(self.vpc.vpc_cidr_block), ec2.Port.tcp(587), "SMTP from the VPC")
        for name, service in (
            ("EcrApi", ec2.InterfaceVpcEndpointAwsService.ECR),
            ("EcrDocker", ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER),
            ("Logs", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS),
            ("Monitoring", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING),
            ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
            ("EmailSmtp", ec2.InterfaceVpcEndpointAwsService.EMAIL_SMTP),
        ):
            self.vpc.add_interface_endpoint(name, service=service, security_groups=[self.endpoint_sg],
                                            subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS))

        self.alb_sg = ec2.SecurityGroup(self, "AlbSg", vpc=self.vpc, allow_all_outbound=False,
                                        description="Load balancer: HTTPS and HTTP (redirected) from anywhere")
        self.alb_sg.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS")
        self.alb_sg.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(80), "HTTP, redirected to HTTPS")
        _suppress(self.alb_sg, ("AwsSolutions-EC23", "The public load balancer serves customers' browsers from "
                                                     "anywhere, on 443 and 80 (which only redirects to 443)."))
        _suppress(self.endpoint_sg, ("AwsSolutions-EC23", "Ingress is the VPC's own CIDR (a token cdk-nag cannot "
                                                          "read), not the internet."))
        self.web_sg = ec2.SecurityGroup(self, "WebSg", vpc=self.vpc, allow_all_outbound=False,
                                        description="Web tasks: only the load balancer reaches them")
        self.web_sg.add_ingress_rule(self.alb_sg, ec2.Port.tcp(WEB_PORT), "From the load balancer only")
        self.alb_sg.add_egress_rule(self.web_sg, ec2.Port.tcp(WEB_PORT), "To the web tasks")
        self.worker_sg = ec2.SecurityGroup(self, "WorkerSg", vpc=self.vpc, allow_all_outbound=False,
                                           description="Workers, beat, migrations: no ingress")
        self.db_sg = ec2.SecurityGroup(self, "DatabaseSg", vpc=self.vpc, allow_all_outbound=False,
                                       description="PostgreSQL: only the services")
        self.redis_sg = ec2.SecurityGroup(self, "RedisSg", vpc=self.vpc, allow_all_outbound=False,
                                          description="Redis: only the services")
        for sg in (self.web_sg, self.worker_sg):
            sg.add_egress_rule(self.db_sg, ec2.Port.tcp(5432), "PostgreSQL")
            self.db_sg.add_ingress_rule(sg, ec2.Port.tcp(5432), "From the services")
            sg.add_egress_rule(self.redis_sg, ec2.Port.tcp(6379), "Redis")
            self.redis_sg.add_ingress_rule(sg, ec2.Port.tcp(6379), "From the services")
            # HTTPS out (LLM provider, shops, AWS endpoints), names only through the DNS firewall.
            sg.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS")
            sg.add_egress_rule(ec2.Peer.ipv4(self.vpc.vpc_cidr_block), ec2.Port.udp(53), "DNS (VPC resolver)")
            sg.add_egress_rule(ec2.Peer.ipv4(self.vpc.vpc_cidr_block), ec2.Port.tcp(53), "DNS (VPC resolver)")
            sg.add_egress_rule(self.endpoint_sg, ec2.Port.tcp(587), "Mail through the SES SMTP endpoint")

    # --- Secrets ------------------------------------------------------------------------------------------
    def _secrets(self, env_name: str) -> None:
        def generated(name: str, description: str, **options: Any) -> secretsmanager.Secret:
            return secretsmanager.Secret(
                self, name, description=description,
                generate_secret_string=secretsmanager.SecretStringGenerator(**options),
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )

        self.django_secret = generated("DjangoSecretKey", "DJANGO_SECRET_KEY", password_length=64,
                                       exclude_characters=URL_UNSAFE)
        # A Fernet key cannot be generated by Secrets Manager: docs/runbooks/rotate-secrets.md sets the
        # first one before the first deploy (the placeholder is no Fernet key: the first use of a tenant's
        # secret fails with an error naming the setting, never silently).
        self.encryption_secret = generated("EncryptionKeys", "DESKPILOT_SECRETS_KEYS (comma-separated Fernet keys)",
                                           password_length=32, exclude_punctuation=True)
        self.redis_secret = generated("RedisAuthToken", "ElastiCache AUTH token", password_length=64,
                                      exclude_characters=URL_UNSAFE)
        self.provider_secret = generated(
            "ProviderKeys", "LLM, embeddings and mail credentials (empty: offline assistant, local embeddings)",
            secret_string_template='{"OPENAI_API_KEY": "", "EMBEDDING_API_KEY": "", "EMAIL_URL": "smtp://localhost:25"}',
            generate_string_key="unused",
        )
        rotation_reason = (
            "Rotated by the runbook (docs/runbooks/rotate-secrets.md) together with a rolling restart: ECS injects "
            "secrets when a task starts, so an automatic rotation would leave running tasks with a dead credential."
        )
        for secret in (self.django_secret, self.encryption_secret, self.redis_secret, self.provider_secret):
            _suppress(secret, ("AwsSolutions-SMG4", rotation_reason))

    # --- PostgreSQL ---------------------------------------------------------------------------------------
    def _database(self, env_name: str) -> None:
        sizes = self.sizes
        parameters = rds.ParameterGroup(
            self, "DatabaseParameters",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_16_13),
            description="Deskpilot: bounded statements, TLS only, slow queries logged",
            parameters={
                # A runaway query is stopped, not left holding a connection and locks.
                "statement_timeout": "30000",
                "idle_in_transaction_session_timeout": "60000",
                "log_min_duration_statement": "1000",
                "max_connections": str(sizes.db_max_connections),
                "rds.force_ssl": "1",
            },
        )
        self.db_credentials_secret = secretsmanager.Secret(
            self, "DatabaseCredentials", description="PostgreSQL master user",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"username": "deskpilot"}', generate_string_key="password",
                password_length=40, exclude_characters=URL_UNSAFE,
            ),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        _suppress(self.db_credentials_secret, ("AwsSolutions-SMG4", (
            "Rotated by docs/runbooks/rotate-secrets.md with a rolling restart of every service: tasks read the "
            "password at start, so a scheduled rotation would break their new connections until they restart."
        )))
        self.database = rds.DatabaseInstance(
            self, "Database",
            engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_16_13),
            instance_type=ec2.InstanceType(sizes.db_instance_class),
            vpc=self.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            security_groups=[self.db_sg],
            credentials=rds.Credentials.from_secret(self.db_credentials_secret),
            database_name="deskpilot",
            multi_az=True,
            storage_encrypted=True,
            storage_type=rds.StorageType.GP3,
            allocated_storage=sizes.db_allocated_gib,
            max_allocated_storage=sizes.db_max_allocated_gib,
            backup_retention=cdk.Duration.days(35),
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.SNAPSHOT,
            enable_performance_insights=True,
            monitoring_interval=cdk.Duration.seconds(60),
            parameter_group=parameters,
            instance_identifier=f"deskpilot-{env_name}",
            cloudwatch_logs_exports=["postgresql", "upgrade"],
            auto_minor_version_upgrade=True,
            copy_tags_to_snapshot=True,
        )
        # The exported logs' groups, made here with their retention (RDS would create them without one).
        for exported in ("postgresql", "upgrade"):
            group = logs.LogGroup(self, f"DatabaseLogs{exported.title()}", retention=LOG_RETENTION,
                                  log_group_name=f"/aws/rds/instance/deskpilot-{env_name}/{exported}",
                                  removal_policy=cdk.RemovalPolicy.RETAIN)
            self.database.node.add_dependency(group)
        _suppress(self.database,
                  ("AwsSolutions-RDS11", "The default port is kept: only the services' security group reaches it."),
                  ("AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                   "AmazonRDSEnhancedMonitoringRole]",
                   "The enhanced-monitoring role uses the policy AWS maintains for exactly that role."))
        _suppress(self.database, ("AwsSolutions-RDS6", (
            "The application authenticates with a Secrets Manager password over TLS (rds.force_ssl); IAM "
            "tokens expire every 15 minutes and Django's pooled connections cannot renew them."
        )))

    # --- Redis --------------------------------------------------------------------------------------------
    def _redis(self, env_name: str) -> None:
        subnets = elasticache.CfnSubnetGroup(
            self, "RedisSubnets", description="Deskpilot Redis: isolated subnets",
            subnet_ids=self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED).subnet_ids,
        )
        self.redis_log_group = logs.LogGroup(self, "RedisSlowLog", retention=LOG_RETENTION,
                                             removal_policy=cdk.RemovalPolicy.DESTROY)
        self.redis_group_id = f"deskpilot-{env_name}"
        self.redis = elasticache.CfnReplicationGroup(
            self, "Redis",
            replication_group_id=self.redis_group_id,
            replication_group_description=f"Deskpilot {env_name}: broker, channel layer, cache",
            engine="redis",
            engine_version="7.1",
            cache_node_type=self.sizes.redis_node_type,
            num_cache_clusters=2,
            automatic_failover_enabled=True,
            multi_az_enabled=True,
            transit_encryption_enabled=True,
            at_rest_encryption_enabled=True,
            auth_token=self.redis_secret.secret_value.unsafe_unwrap(),
            cache_subnet_group_name=subnets.ref,
            security_group_ids=[self.redis_sg.security_group_id],
            snapshot_retention_limit=7,
            auto_minor_version_upgrade=True,
            log_delivery_configurations=[elasticache.CfnReplicationGroup.LogDeliveryConfigurationRequestProperty(
                destination_type="cloudwatch-logs", log_format="json", log_type="slow-log",
                destination_details=elasticache.CfnReplicationGroup.DestinationDetailsProperty(
                    cloud_watch_logs_details=elasticache.CfnReplicationGroup.CloudWatchLogsDestinationDetailsProperty(
                        log_group=self.redis_log_group.log_group_name)),
            )],
        )
        _suppress(self.redis, ("AwsSolutions-AEC5", "The default port is kept: only the services reach it."))

    # --- ECS: cluster, task definitions, services ----------------------------------------------------------
    def _container_settings(self, domain: str) -> tuple[dict[str, str], dict[str, ecs.Secret]]:
        environment = {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_ALLOWED_HOSTS": f".{domain}",
            "DESKPILOT_PLATFORM_DOMAIN": domain,
            # The ALB is the one proxy: it appends the client's address to X-Forwarded-For.
            "TRUSTED_PROXY_COUNT": "1",
            "DESKPILOT_LOG_FORMAT": "json",
            "DATABASE_HOST": self.database.db_instance_endpoint_address,
            "DATABASE_PORT": self.database.db_instance_endpoint_port,
            "DATABASE_NAME": "deskpilot",
            "REDIS_HOST": self.redis.attr_primary_end_point_address,
            "REDIS_PORT": self.redis.attr_primary_end_point_port,
            # The queue metrics' publisher (decisions 1701 and 1801): on, in this stack's region, with the
            # Environment dimension the scaling policies and alarms below read.
            "CLOUDWATCH_METRICS_REGION": self.region,
            "CLOUDWATCH_METRICS_ENVIRONMENT": self.sizes.environment,
            "DATABASE_CONN_HEALTH_CHECKS": "true",
        }
        secrets = {
            "DATABASE_USER": ecs.Secret.from_secrets_manager(self.db_credentials_secret, "username"),
            "DATABASE_PASSWORD": ecs.Secret.from_secrets_manager(self.db_credentials_secret, "password"),
            "REDIS_AUTH_TOKEN": ecs.Secret.from_secrets_manager(self.redis_secret),
            "DJANGO_SECRET_KEY": ecs.Secret.from_secrets_manager(self.django_secret),
            "DESKPILOT_SECRETS_KEYS": ecs.Secret.from_secrets_manager(self.encryption_secret),
            "OPENAI_API_KEY": ecs.Secret.from_secrets_manager(self.provider_secret, "OPENAI_API_KEY"),
            "EMBEDDING_API_KEY": ecs.Secret.from_secrets_manager(self.provider_secret, "EMBEDDING_API_KEY"),
            "EMAIL_URL": ecs.Secret.from_secrets_manager(self.provider_secret, "EMAIL_URL"),
        }
        return environment, secrets

    def _task_definition(self, name: str, *, cpu: int, memory: int, command: list[str], port: int | None = None,
                         stop_timeout: int = 120, health_command: list[str] | None = None,
                         family: str | None = None) -> ecs.FargateTaskDefinition:
        task = ecs.FargateTaskDefinition(
            self, f"{name}Task", cpu=cpu, memory_limit_mib=memory, family=family,
            runtime_platform=ecs.RuntimePlatform(cpu_architecture=ecs.CpuArchitecture.ARM64,
                                                 operating_system_family=ecs.OperatingSystemFamily.LINUX),
        )
        log_group = logs.LogGroup(self, f"{name}Logs", retention=LOG_RETENTION, removal_policy=cdk.RemovalPolicy.DESTROY)
        task.add_container(
            "app",
            image=ecs.ContainerImage.from_ecr_repository(self.repository, tag=self.image_tag.value_as_string),
            command=command,
            environment=self.app_environment,
            secrets=self.app_secrets,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=name.lower(), log_group=log_group),
            stop_timeout=cdk.Duration.seconds(stop_timeout),
            linux_parameters=ecs.LinuxParameters(self, f"{name}Linux", init_process_enabled=True),
            health_check=ecs.HealthCheck(command=health_command, interval=cdk.Duration.seconds(30),
                                         timeout=cdk.Duration.seconds(15), retries=3,
                                         start_period=cdk.Duration.seconds(60)) if health_command else None,
            port_mappings=[ecs.PortMapping(container_port=port)] if port else None,
        )
        _suppress(task, ("AwsSolutions-ECS2", (
            "Only non-secret settings are plain environment variables; every secret is an ECS secret from "
            "Secrets Manager (the `secrets` of the same container)."
        )))
        _suppress(task, ("AwsSolutions-IAM5[Resource::*]", (
            "The execution role's log-stream and ECR-pull statements are CDK's own grants, scoped to this task's "
            "log group and repository; ecr:GetAuthorizationToken has no resource scope in IAM."
        )))
        return task

    def _cluster_and_services(self, env_name: str, *, domain: str, repository_name: str) -> None:
        sizes = self.sizes
        self.repository = ecr.Repository.from_repository_name(self, "Repository", repository_name)
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=self.vpc, cluster_name=f"deskpilot-{env_name}",
            container_insights_v2=ecs.ContainerInsights.ENABLED, enable_fargate_capacity_providers=True,
        )
        self.app_environment, self.app_secrets = self._container_settings(domain)
        private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        breaker = ecs.DeploymentCircuitBreaker(enable=True, rollback=True)

        web_task = self._task_definition("Web", cpu=sizes.web_cpu, memory=sizes.web_memory_mib, command=["web"],
                                         port=WEB_PORT, stop_timeout=60)
        self.web = ecs.FargateService(
            self, "WebService", cluster=self.cluster, task_definition=web_task, service_name="web",
            desired_count=sizes.web_min_tasks, vpc_subnets=private, security_groups=[self.web_sg],
            assign_public_ip=False, circuit_breaker=breaker, min_healthy_percent=100, max_healthy_percent=200,
            health_check_grace_period=cdk.Duration.seconds(300), enable_execute_command=False,
        )
        self.web_scaling = self.web.auto_scale_task_count(min_capacity=sizes.web_min_tasks,
                                                          max_capacity=sizes.web_max_tasks)
        self.web_scaling.scale_on_cpu_utilization(
            "Cpu", target_utilization_percent=50,
            scale_in_cooldown=cdk.Duration.seconds(300), scale_out_cooldown=cdk.Duration.seconds(60),
        )

        self.workers: dict[str, ecs.FargateService] = {}
        self.worker_scaling: dict[str, appscaling.ScalableTarget] = {}
        for group in sizes.worker_groups:
            queues = ",".join(group.queues)
            task = self._task_definition(
                f"Worker{group.name.title().replace('-', '')}", cpu=sizes.worker_cpu,
                memory=sizes.worker_memory_mib, command=["worker", queues],
                health_command=["CMD-SHELL", f"celery -A config inspect ping --timeout 10 -d {group.name}@$(hostname)"],
            )
            strategies = [ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT" if group.spot else "FARGATE",
                                                       weight=1)]
            service = ecs.FargateService(
                self, f"Worker{group.name.title().replace('-', '')}Service", cluster=self.cluster,
                task_definition=task, service_name=f"worker-{group.name}", desired_count=group.min_tasks,
                vpc_subnets=private, security_groups=[self.worker_sg], assign_public_ip=False,
                circuit_breaker=breaker, min_healthy_percent=100, max_healthy_percent=200,
                capacity_provider_strategies=strategies,
            )
            self.workers[group.name] = service
            self.worker_scaling[group.name] = self._scale_on_backlog(group, service)
            if "critical" in group.queues:
                self._may_publish_metrics(task)

        beat_task = self._task_definition("Beat", cpu=256, memory=512, command=["beat"], stop_timeout=30,
                                          health_command=["CMD-SHELL", "test -f /tmp/celerybeat-schedule"])
        # Exactly one beat: never two at once, even during a deployment (0 % / 100 %).
        self.beat = ecs.FargateService(
            self, "BeatService", cluster=self.cluster, task_definition=beat_task, service_name="beat",
            desired_count=1, vpc_subnets=private, security_groups=[self.worker_sg], assign_public_ip=False,
            circuit_breaker=breaker, min_healthy_percent=0, max_healthy_percent=100,
        )
        # Run by the deploy workflow before each rollout (`migrate` entrypoint): the same image and settings.
        self.migrate_task = self._task_definition("Migrate", cpu=512, memory=1024, command=["migrate"],
                                                  stop_timeout=30, family=f"deskpilot-{env_name}-migrate")

        if sizes.scale_to_zero_out_of_hours:
            self._business_hours(self.web_scaling, "Web", sizes.web_min_tasks, sizes.web_max_tasks)
            for group in sizes.worker_groups:
                self._business_hours(self.worker_scaling[group.name], group.name, group.min_tasks, group.max_tasks)

    def _business_hours(self, scaling: Any, name: str, min_tasks: int, max_tasks: int) -> None:
        """Staging costs nothing in Fargate outside 07:00-19:00 UTC on weekdays."""
        scaling.scale_on_schedule(f"{name}Night", schedule=appscaling.Schedule.cron(hour="19", minute="0"),
                                  min_capacity=0, max_capacity=0)
        scaling.scale_on_schedule(f"{name}Morning",
                                  schedule=appscaling.Schedule.cron(hour="7", minute="0", week_day="MON-FRI"),
                                  min_capacity=min_tasks, max_capacity=max_tasks)

    def _may_publish_metrics(self, task: ecs.FargateTaskDefinition) -> None:
        """The worker consuming `critical` runs beat's publishing task: it may put metrics, in our namespace only."""
        task.add_to_task_role_policy(iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
        ))
        _suppress(task.task_role, ("AwsSolutions-IAM5[Resource::*]", (
            "cloudwatch:PutMetricData has no resource scope in IAM; the statement is bound to the Deskpilot "
            "namespace by its cloudwatch:namespace condition."
        )))

    def _queue_metric(self, queue: str, metric_name: str, statistic: str = "Maximum") -> cw.Metric:
        return cw.Metric(namespace=METRICS_NAMESPACE, metric_name=metric_name, statistic=statistic,
                         period=cdk.Duration.minutes(1),
                         dimensions_map={"Environment": self.sizes.environment, "Queue": queue})

    def _scale_on_backlog(self, group: Any, service: ecs.FargateService) -> appscaling.ScalableTarget:
        """Target tracking on messages waiting per running task: the group's queues' backlog (published
        by the platform) divided by the service's running tasks (Container Insights)."""
        target = appscaling.ScalableTarget(
            self, f"{service.node.id}Scaling", service_namespace=appscaling.ServiceNamespace.ECS,
            resource_id=f"service/{self.cluster.cluster_name}/{service.service_name}",
            scalable_dimension="ecs:service:DesiredCount", min_capacity=group.min_tasks, max_capacity=group.max_tasks,
        )
        target.node.add_dependency(service)
        prop = appscaling.CfnScalingPolicy
        queries = [
            prop.TargetTrackingMetricDataQueryProperty(
                id=f"q{index}", return_data=False,
                metric_stat=prop.TargetTrackingMetricStatProperty(stat="Maximum", metric=prop.TargetTrackingMetricProperty(
                    namespace=METRICS_NAMESPACE, metric_name="QueueBacklog",
                    dimensions=[prop.TargetTrackingMetricDimensionProperty(name="Environment", value=self.sizes.environment),
                                prop.TargetTrackingMetricDimensionProperty(name="Queue", value=queue)])),
            )
            for index, queue in enumerate(group.queues)
        ]
        queries.append(prop.TargetTrackingMetricDataQueryProperty(
            id="tasks", return_data=False,
            metric_stat=prop.TargetTrackingMetricStatProperty(stat="Average", metric=prop.TargetTrackingMetricProperty(
                namespace="ECS/ContainerInsights", metric_name="RunningTaskCount",
                dimensions=[prop.TargetTrackingMetricDimensionProperty(name="ClusterName", value=self.cluster.cluster_name),
                            prop.TargetTrackingMetricDimensionProperty(name="ServiceName", value=service.service_name)])),
        ))
        backlog = "+".join(f"q{index}" for index in range(len(group.queues)))
        queries.append(prop.TargetTrackingMetricDataQueryProperty(
            id="backlog_per_task", return_data=True, label="Messages waiting per running task",
            expression=f"({backlog}) / IF(tasks > 0, tasks, 1)",
        ))
        appscaling.CfnScalingPolicy(
            self, f"{service.node.id}BacklogPolicy", policy_name=f"{service.service_name}-backlog-per-task",
            policy_type="TargetTrackingScaling", scaling_target_id=target.scalable_target_id,
            target_tracking_scaling_policy_configuration=prop.TargetTrackingScalingPolicyConfigurationProperty(
                target_value=float(group.backlog_per_task), scale_in_cooldown=300, scale_out_cooldown=60,
                customized_metric_specification=prop.CustomizedMetricSpecificationProperty(metrics=queries),
            ),
        )
        return target

    # --- Load balancer ------------------------------------------------------------------------------------
    def _load_balancer(self, env_name: str, *, certificate_arn: str) -> None:
        access_logs = s3.Bucket(
            self, "AccessLogs", encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL, versioned=True,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(90))],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        _suppress(access_logs, ("AwsSolutions-S1", "This bucket holds the load balancer's access logs: logging "
                                                   "its own access would log into itself."))
        self.alb = elbv2.ApplicationLoadBalancer(
            self, "Alb", vpc=self.vpc, internet_facing=True, security_group=self.alb_sg,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            # Widget and inbox sockets stay open between pings.
            idle_timeout=cdk.Duration.seconds(300), drop_invalid_header_fields=True, deletion_protection=True,
        )
        self.alb.log_access_logs(access_logs, prefix="alb")
        self.alb.add_redirect(source_port=80, source_protocol=elbv2.ApplicationProtocol.HTTP,
                              target_port=443, target_protocol=elbv2.ApplicationProtocol.HTTPS)
        listener = self.alb.add_listener(
            "Https", port=443, protocol=elbv2.ApplicationProtocol.HTTPS, open=False,
            certificates=[acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)],
            ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
        )
        self.target_group = listener.add_targets(
            "Web", port=WEB_PORT, protocol=elbv2.ApplicationProtocol.HTTP, targets=[self.web],
            deregistration_delay=cdk.Duration.seconds(60),
            # A new web task (a deploy, a scale-out) is given its share of requests over a minute, not
            # at once: one started cold at full load queues requests it then never catches up on
            # (docs/benchmarks.md, "The webhook acknowledgement, warm and cold").
            slow_start=cdk.Duration.seconds(60),
            health_check=elbv2.HealthCheck(path="/readyz", interval=cdk.Duration.seconds(30),
                                           timeout=cdk.Duration.seconds(5), healthy_threshold_count=3,
                                           unhealthy_threshold_count=3, healthy_http_codes="200"),
        )

    # --- WAF ----------------------------------------------------------------------------------------------
    def _firewall(self, env_name: str) -> None:
        def managed(name: str, priority: int, excluded: list[str] | None = None) -> wafv2.CfnWebACL.RuleProperty:
            return wafv2.CfnWebACL.RuleProperty(
                name=name, priority=priority, override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(managed_rule_group_statement=(
                    wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=name,
                        rule_action_overrides=[wafv2.CfnWebACL.RuleActionOverrideProperty(
                            name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={}))
                            for rule in (excluded or [])] or None,
                    ))),
                visibility_config=self._visibility(name),
            )

        def path_starts(path: str) -> wafv2.CfnWebACL.StatementProperty:
            return wafv2.CfnWebACL.StatementProperty(byte_match_statement=wafv2.CfnWebACL.ByteMatchStatementProperty(
                field_to_match=wafv2.CfnWebACL.FieldToMatchProperty(uri_path={}), positional_constraint="STARTS_WITH",
                search_string=path,
                text_transformations=[wafv2.CfnWebACL.TextTransformationProperty(priority=0, type="LOWERCASE")],
            ))

        rate_scope = wafv2.CfnWebACL.StatementProperty(and_statement=wafv2.CfnWebACL.AndStatementProperty(statements=[
            wafv2.CfnWebACL.StatementProperty(or_statement=wafv2.CfnWebACL.OrStatementProperty(
                statements=[path_starts(path) for path in RATE_LIMITED_PATHS])),
            # Widget sockets have their own handshake limit (WIDGET_HANDSHAKES_PER_MINUTE_PER_IP).
            wafv2.CfnWebACL.StatementProperty(not_statement=wafv2.CfnWebACL.NotStatementProperty(
                statement=path_starts(SOCKET_PATH))),
        ]))
        self.web_acl = wafv2.CfnWebACL(
            self, "WebAcl", scope="REGIONAL", default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=self._visibility("deskpilot"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="LoginAndApiRate", priority=0, action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=(
                        wafv2.CfnWebACL.RateBasedStatementProperty(limit=100, evaluation_window_sec=60,
                                                                   aggregate_key_type="IP",
                                                                   scope_down_statement=rate_scope))),
                    visibility_config=self._visibility("LoginAndApiRate"),
                ),
                managed("AWSManagedRulesAmazonIpReputationList", 1),
                # Knowledge-base uploads are larger than the common rule set's 8 KB body limit: counted, not
                # blocked (the application caps them at KB_MAX_FILE_BYTES).
                managed("AWSManagedRulesCommonRuleSet", 2, excluded=["SizeRestrictions_BODY"]),
                managed("AWSManagedRulesKnownBadInputsRuleSet", 3),
                managed("AWSManagedRulesSQLiRuleSet", 4),
            ],
        )
        wafv2.CfnWebACLAssociation(self, "WebAclAlb", resource_arn=self.alb.load_balancer_arn,
                                   web_acl_arn=self.web_acl.attr_arn)
        waf_logs = logs.LogGroup(self, "WafLogs", log_group_name=f"aws-waf-logs-deskpilot-{env_name}",
                                 retention=LOG_RETENTION, removal_policy=cdk.RemovalPolicy.DESTROY)
        # WAF takes the log group's ARN without the ":*" suffix that log_group_arn carries.
        waf_logs_arn = self.format_arn(service="logs", resource="log-group", resource_name=waf_logs.log_group_name,
                                       arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME)
        wafv2.CfnLoggingConfiguration(self, "WafLogging", resource_arn=self.web_acl.attr_arn,
                                      log_destination_configs=[waf_logs_arn])

        # DNS firewall: the services resolve only the allow-listed names (decision 1703).
        allowed = tuple(self.node.try_get_context("egressAllowedDomains") or DEFAULT_EGRESS_DOMAINS)
        allow_list = resolver.CfnFirewallDomainList(self, "EgressAllowed", domains=list(allowed))
        everything = resolver.CfnFirewallDomainList(self, "EgressEverythingElse", domains=["*"])
        rule_group = resolver.CfnFirewallRuleGroup(self, "EgressRules", firewall_rules=[
            resolver.CfnFirewallRuleGroup.FirewallRuleProperty(action="ALLOW", priority=100,
                                                               firewall_domain_list_id=allow_list.attr_id),
            resolver.CfnFirewallRuleGroup.FirewallRuleProperty(action="BLOCK", block_response="NXDOMAIN",
                                                               priority=200, firewall_domain_list_id=everything.attr_id),
        ])
        # The VPC's own names (RDS, ElastiCache, endpoints) resolve before the firewall applies to public names.
        resolver.CfnFirewallRuleGroupAssociation(self, "EgressRulesVpc", firewall_rule_group_id=rule_group.attr_id,
                                                 vpc_id=self.vpc.vpc_id, priority=101, mutation_protection="ENABLED")

    @staticmethod
    def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
        return wafv2.CfnWebACL.VisibilityConfigProperty(cloud_watch_metrics_enabled=True, metric_name=name,
                                                        sampled_requests_enabled=True)

    # --- Alarms -------------------------------------------------------------------------------------------
    def _alarms(self, env_name: str) -> None:
        key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True, description="Deskpilot alarm topic")
        key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")], resources=["*"],
        ))
        self.topic = sns.Topic(self, "Alarms", display_name=f"Deskpilot {env_name} alarms", master_key=key,
                               enforce_ssl=True)
        self.topic.add_subscription(subscriptions.EmailSubscription(self.alarm_email.value_as_string))
        action = cw_actions.SnsAction(self.topic)
        self.alarms: dict[str, cw.Alarm] = {}

        def alarm(name: str, metric: cw.IMetric, *, threshold: float, periods: int = 1, datapoints: int | None = None,
                  comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                  missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING, runbook: str) -> cw.Alarm:
            created = cw.Alarm(
                self, f"{name}Alarm", alarm_name=f"deskpilot-{env_name}-{name}", metric=metric, threshold=threshold,
                evaluation_periods=periods, datapoints_to_alarm=datapoints or periods, comparison_operator=comparison,
                treat_missing_data=missing, alarm_description=f"Runbook: docs/runbooks/{runbook}",
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms[name] = created
            return created

        minute = cdk.Duration.minutes(1)
        services = {"web": self.web, "beat": self.beat, **{f"worker-{name}": svc for name, svc in self.workers.items()}}
        for name, service in services.items():
            def insight(metric_name: str, svc: ecs.FargateService = service) -> cw.Metric:
                return cw.Metric(namespace="ECS/ContainerInsights", metric_name=metric_name, statistic="Minimum",
                                 period=minute, dimensions_map={"ClusterName": self.cluster.cluster_name,
                                                                "ServiceName": svc.service_name})

            running: cw.IMetric = insight("RunningTaskCount")
            if self.sizes.scale_to_zero_out_of_hours:
                # Staging has no tasks at night on purpose: it alarms only when tasks are wanted and none run.
                running = cw.MathExpression(expression="IF(desired >= 1, running, 1)", period=minute,
                                            label="Running tasks while some are wanted",
                                            using_metrics={"running": running, "desired": insight("DesiredTaskCount")})
            alarm(f"{name}-running-tasks", running, threshold=1, periods=2,
                  comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD, missing=cw.TreatMissingData.BREACHING,
                  runbook="deploy-and-rollback.md")

        lb = self.alb.metrics
        target_5xx = lb.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=minute, statistic="Sum")
        elb_5xx = lb.http_code_elb(elbv2.HttpCodeElb.ELB_5XX_COUNT, period=minute, statistic="Sum")
        requests = lb.request_count(period=minute, statistic="Sum")
        self.alarm_5xx_rate = alarm("5xx-rate", cw.MathExpression(
            expression="100 * (t5 + e5) / IF(req > 0, req, 1)", label="5xx % of requests",
            using_metrics={"t5": target_5xx, "e5": elb_5xx, "req": requests}, period=minute,
        ), threshold=5, runbook="deploy-and-rollback.md")
        self.alarm_5xx_count = alarm("5xx-count", cw.MathExpression(
            expression="t5 + e5", label="5xx responses in 60 s", using_metrics={"t5": target_5xx, "e5": elb_5xx},
            period=minute,
        ), threshold=10, runbook="deploy-and-rollback.md")
        alarm("p95-latency", lb.target_response_time(period=minute, statistic="p95"), threshold=2, periods=2,
              runbook="connection-exhaustion.md")

        db = self.database
        alarm("rds-cpu", db.metric_cpu_utilization(period=cdk.Duration.minutes(5)), threshold=80, periods=2,
              runbook="connection-exhaustion.md")
        alarm("rds-connections", db.metric_database_connections(period=minute, statistic="Maximum"),
              threshold=0.8 * self.sizes.db_max_connections, periods=3, runbook="connection-exhaustion.md")
        alarm("rds-free-storage", db.metric_free_storage_space(period=cdk.Duration.minutes(5), statistic="Minimum"),
              threshold=0.2 * self.sizes.db_allocated_gib * 1024**3, comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
              runbook="disk-exhaustion.md")

        alarm("dead-letters", cw.Metric(namespace=METRICS_NAMESPACE, metric_name="DeadLetters", statistic="Maximum",
                                        period=minute, dimensions_map={"Environment": env_name}),
              threshold=0, runbook="dead-letters.md")
        for queue in QUEUES:
            alarm(f"oldest-task-{queue}", self._queue_metric(queue, "QueueOldestTaskAge"),
                  threshold=self.sizes.oldest_task_age_seconds[queue], periods=3, runbook="stuck-queue.md")
        for node in ("001", "002"):
            alarm(f"redis-memory-{node}", cw.Metric(
                namespace="AWS/ElastiCache", metric_name="DatabaseMemoryUsagePercentage", statistic="Maximum",
                period=minute, dimensions_map={"CacheClusterId": f"{self.redis_group_id}-{node}"},
            ), threshold=80, periods=3, runbook="connection-exhaustion.md")

        # A deployment whose 5xx alarm fires while it rolls out is rolled back by ECS itself.
        for service in services.values():
            service.enable_deployment_alarms(
                [self.alarm_5xx_rate.alarm_name, self.alarm_5xx_count.alarm_name],
                behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM,
            )

    # --- Dashboard ----------------------------------------------------------------------------------------
    def _dashboard(self, env_name: str) -> None:
        minute = cdk.Duration.minutes(1)
        lb = self.alb.metrics
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"deskpilot-{env_name}")
        dashboard.add_widgets(
            cw.GraphWidget(title="Requests and 5xx", left=[lb.request_count(period=minute)],
                           right=[lb.http_code_target(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=minute)]),
            cw.GraphWidget(title="Latency p95 (s)", left=[lb.target_response_time(period=minute, statistic="p95")]),
            cw.GraphWidget(title="Web CPU %", left=[self.web.metric_cpu_utilization(period=minute)]),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="Queue backlog", left=[self._queue_metric(q, "QueueBacklog") for q in QUEUES]),
            cw.GraphWidget(title="Oldest task age (s)",
                           left=[self._queue_metric(q, "QueueOldestTaskAge") for q in QUEUES]),
            cw.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms.values())),
        )
        dashboard.add_widgets(
            cw.GraphWidget(title="PostgreSQL", left=[self.database.metric_cpu_utilization(period=minute)],
                           right=[self.database.metric_database_connections(period=minute)]),
            cw.GraphWidget(title="Redis memory %", left=[cw.Metric(
                namespace="AWS/ElastiCache", metric_name="DatabaseMemoryUsagePercentage", period=minute,
                dimensions_map={"CacheClusterId": f"{self.redis_group_id}-{node}"}) for node in ("001", "002")]),
        )

    def _outputs(self) -> None:
        private = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnet_ids
        cdk.CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)
        cdk.CfnOutput(self, "MigrateTaskFamily", value=self.migrate_task.family)
        cdk.CfnOutput(self, "MigrateSubnets", value=",".join(private))
        cdk.CfnOutput(self, "MigrateSecurityGroup", value=self.worker_sg.security_group_id)
        cdk.CfnOutput(self, "LoadBalancerDns", value=self.alb.load_balancer_dns_name)
