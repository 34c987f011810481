import json

from django.core.management.base import BaseCommand, CommandError

from kameng.console.invariants import CHECKS, find_violations


class Command(BaseCommand):
    help = "Checks the shop's promises in the database (keys sold once, ledger balanced, one payment per period, "
    "refunds within payments, the channel's books agree); exits 1 and lists the offenders if any is broken."

    def handle(self, *args, **options):
        violations = find_violations()
        self.stdout.write(json.dumps({"checked": list(CHECKS), "violations": violations}, indent=2))
        if violations:
            raise CommandError(f"{len(violations)} invariant(s) broken: {', '.join(violations)}")
