from typing import Any

from django.core.management.base import BaseCommand

from backend.accounts.roles import roles_sync


class Command(BaseCommand):
    help = "Create the customer, staff and admin groups with their permissions (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        for role, count in roles_sync().items():
            self.stdout.write(f"{role}: {count} permissions")
