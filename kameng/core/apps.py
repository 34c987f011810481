from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kameng.core"
    label = "core"
    verbose_name = "核心 Core"

    def ready(self) -> None:
        from kameng.core import checks, outbox, sweeps  # noqa: F401 (checks registers itself)

        # Side effects whose first delivery failed are retried after their backoff by this sweep.
        sweeps.register("outbox", outbox.deliver_due, next_due=outbox.next_due)
