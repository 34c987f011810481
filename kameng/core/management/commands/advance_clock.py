from django.core.management.base import BaseCommand, CommandError

from kameng.core import clock


class Command(BaseCommand):
    help = "Move the sandbox test clock forward by SECONDS (sandbox only)."

    def add_arguments(self, parser):
        parser.add_argument("seconds", type=int)

    def handle(self, *args, seconds: int, **options):
        try:
            offset = clock.advance(seconds=seconds)
        except (PermissionError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"now {clock.now().isoformat()} (offset {offset}s)")
