"""``manage.py device_sim <command> ...``: the device simulator (devices/simulator), same arguments
as ``python -m devices.simulator``."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "A simulated store device speaking the kiosk protocol "
        "(pair, run, punch, identify, offline, replay, swarm)."
    )

    def run_from_argv(self, argv):
        # The simulator has its own parser (sub-commands and their options): hand it the rest.
        from devices.simulator.cli import main

        sys.exit(main(argv[2:], prog=f"{argv[0]} {argv[1]}"))

    def handle(self, *args, **options):  # only reached through call_command()
        from devices.simulator.cli import main

        code = main(list(args))
        if code:
            sys.exit(code)
