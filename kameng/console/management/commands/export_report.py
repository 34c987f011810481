import csv
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from kameng.console import selectors


class Command(BaseCommand):
    help = "Writes one dashboard table as CSV (to a file or stdout): " + ", ".join(selectors.TABLES)

    def add_arguments(self, parser):
        parser.add_argument("table", choices=sorted(selectors.TABLES))
        parser.add_argument("--from", dest="start", help="YYYY-MM-DD (default: 30 days ago)")
        parser.add_argument("--to", dest="end", help="YYYY-MM-DD (default: today)")
        parser.add_argument("--plan", default="", help="a plan code (default: all plans)")
        parser.add_argument("--output", "-o", default="-", help="a file, or - for stdout")

    def handle(self, *args, **options):
        default = selectors.default_filters()
        try:
            start = date.fromisoformat(options["start"]) if options["start"] else default.start
            end = date.fromisoformat(options["end"]) if options["end"] else default.end
        except ValueError as exc:
            raise CommandError(f"dates are YYYY-MM-DD: {exc}") from exc
        if end < start:
            raise CommandError("--to is before --from")
        table = selectors.TABLES[options["table"]](
            selectors.Filters(start=start, end=end, plan=options["plan"])
        )
        if options["output"] == "-":
            self._write(self.stdout, table)
            return
        with open(options["output"], "w", newline="", encoding="utf-8") as out:
            self._write(out, table)

    @staticmethod
    def _write(out, table: selectors.Table) -> None:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(table.header)
        writer.writerows(table.rows)
