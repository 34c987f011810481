import secrets

from django.core.management.base import BaseCommand, CommandError

from kameng.accounts import services
from kameng.accounts.models import STAFF_ROLES
from kameng.core.audit import Source
from kameng.core.errors import DomainError
from kameng.core.roles import Role


class Command(BaseCommand):
    help = "Create a staff account (support, finance, operator, admin); prints its generated password once."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument("--role", default=Role.OPERATOR, choices=sorted(STAFF_ROLES))

    def handle(self, *args, username: str, email: str, role: str, **options):
        password = secrets.token_urlsafe(12)
        try:
            services.register_user(
                username=username, password=password, email=email, role=role, source=Source.CLI
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{role} {username} created; password (shown once): {password}")
