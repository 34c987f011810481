from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kameng.core"
    label = "core"
    verbose_name = "核心 Core"

    def ready(self) -> None:
        # Imported here, not at the top: these modules use models, which exist only once the registry is ready.
        from kameng.core import checks, metrics, outbox, sweeps  # noqa: F401 (checks registers itself)

        # Side effects whose first delivery failed are retried after their backoff by this sweep.
        sweeps.register("outbox", outbox.deliver_due, next_due=outbox.next_due)
        metrics.register("core", metrics.core_figures)
