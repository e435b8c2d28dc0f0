"""Run the daily retention job now (attendance/tasks.py): for every brand, or one brand by its slug."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from attendance import tasks
from retail.models import Brand


class Command(BaseCommand):
    help = (
        "Delete punches, access records and day records older than each brand's retention, and the face "
        "encodings of people who left or have no consent (the daily job, now)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--brand", help="Only this brand (its slug).")

    def handle(self, *args, **options):
        brands = Brand.objects.order_by("pk")
        if options["brand"]:
            brands = brands.filter(slug=options["brand"])
            if not brands.exists():
                raise CommandError(f"No brand {options['brand']!r}.")
        for brand in brands:
            counts = tasks.retention.apply(args=[brand.pk], throw=True).get()
            line = ", ".join(f"{k} {v}" for k, v in counts.items())
            self.stdout.write(f"{brand.slug}: {line}")
