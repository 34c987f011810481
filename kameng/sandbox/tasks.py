from celery import shared_task

from kameng.sandbox import services


@shared_task(ignore_result=True)
def deliver_notifications() -> int:
    return services.deliver_due_notifications()
