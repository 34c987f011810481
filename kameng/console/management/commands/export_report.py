import csv

from django.core.management.base import BaseCommand, CommandError

from kameng.console import selectors
from kameng.console.filters import report_filters
from kameng.core.errors import DomainError


class Command(BaseCommand):
    help = "Writes one dashboard table as CSV (to a file or stdout): " + ", ".join(selectors.TABLES)

    def add_arguments(self, parser):
        parser.add_argument("table", choices=sorted(selectors.TABLES))
        parser.add_argument("--from", dest="start", help="YYYY-MM-DD (default: 30 days ago)")
        parser.add_argument("--to", dest="end", help="YYYY-MM-DD (default: today)")
        parser.add_argument("--plan", default="", help="a plan code (default: all plans)")
        parser.add_argument("--output", "-o", default="-", help="a file, or - for stdout")

    def handle(self, *args, **options):
        try:
            filters = report_filters(start=options["start"] or "", end=options["end"] or "", max_range=None)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        table = selectors.TABLES[options["table"]](
            selectors.Filters(start=filters.start, end=filters.end, plan=options["plan"])
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
