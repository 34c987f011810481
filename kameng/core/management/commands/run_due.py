import json

from django.core.management.base import BaseCommand

from kameng.core import sweeps


class Command(BaseCommand):
    help = "Run every due sweep now (order expiry, outbox, sandbox notifications) and print what each did."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(sweeps.run_due_sweeps()))
