from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kameng.core"
    label = "core"
    verbose_name = "核心 Core"

    def ready(self) -> None:
        # Imported here, not at the top: these modules use models, which exist only once the registry is ready.
        from celery.signals import task_postrun, task_prerun

        from kameng.core import checks, clock, metrics, outbox, sweeps  # noqa: F401 (checks registers itself)

        # A task is one unit of work for the test clock: it reads the offset once, afresh (kameng.core.clock).
        task_prerun.connect(clock.task_started, weak=False, dispatch_uid="kameng.clock.task_started")
        task_postrun.connect(clock.task_finished, weak=False, dispatch_uid="kameng.clock.task_finished")

        # Side effects whose first delivery failed are retried after their backoff by this sweep.
        sweeps.register("outbox", outbox.deliver_due, next_due=outbox.next_due)
        metrics.register("core", metrics.core_figures)
