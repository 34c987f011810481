from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "kameng.support"
    label = "support"
    verbose_name = "客服 Support"

    def ready(self) -> None:
        # Imported here, not at the top: these modules use models, which exist only once the registry is ready.
        from kameng.core import sweeps
        from kameng.support import sla

        sweeps.register("support_sla", sla.escalate_overdue, next_due=sla.next_escalation_due)
