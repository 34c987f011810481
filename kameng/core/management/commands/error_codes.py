"""Prints the error-code catalogue as the Markdown table of docs/api.md (`manage.py error_codes`)."""

from django.core.management.base import BaseCommand
from django.utils import translation

from kameng.core.errors import catalogue


class Command(BaseCommand):
    help = "Print every error code with its status and message (Chinese and English), as a Markdown table."

    def handle(self, *args, **options):
        self.stdout.write("| code | status | app | message (zh) | message (en) |")
        self.stdout.write("|---|---|---|---|---|")
        for code in catalogue():
            with translation.override("zh-hans"):
                chinese = str(code.template)
            with translation.override("en"):
                english = str(code.template)
            app = code.__class__.__module__.split(".")[1]
            self.stdout.write(f"| `{code.value}` | {code.status} | {app} | {chinese} | {english} |")
