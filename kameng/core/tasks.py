from celery import shared_task

from kameng.core import outbox, sweeps


@shared_task(ignore_result=True)
def deliver_outbox() -> int:
    return outbox.deliver_due()


@shared_task(ignore_result=True)
def run_due_sweeps() -> dict[str, int]:
    return sweeps.run_due_sweeps()
