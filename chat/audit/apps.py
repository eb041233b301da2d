from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "chat.audit"
    label = "audit"
    verbose_name = "Audit log"
