"""The benchmark scenarios, one module per area, each with ``run(run)`` (the measurement, in
the runner's process) and ``STEPS`` (the Django-side steps: seed, measure, verify; each run by
``python -m bench step <scenario> <step> ...`` in its own process and printing one JSON
document). Their data and load files (SQL, Lua) sit next to them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Spec:
    database: str = "retail_bench"  # its own database, recreated for each run
    database_var: str = "BENCH_DATABASE_URL"  # names another outright
    redis_db: int | None = None  # its own Redis database (None: REDIS_URL as it is)
    redis_var: str | None = None
    env: dict = field(default_factory=dict)  # more variables for every step
    quick: dict = field(default_factory=dict)  # the tunables of `--quick` (reduced scale)
    in_all: bool = True  # part of `python -m bench all` (= make bench)


QUICK_STAFF = {"BENCH_STORES": "20", "BENCH_STAFF": "300"}
SCENARIOS: dict[str, Spec] = {
    "staff": Spec(quick={**QUICK_STAFF, "BENCH_DURATION": "3s", "BENCH_REPEAT": "1"}),
    "members": Spec(
        redis_db=9,
        redis_var="BENCH_MEMBERS_REDIS_URL",
        quick={
            **QUICK_STAFF,
            "BENCH_MEMBERS": "30000",
            "BENCH_MEMBERS_DURATION": "2s",
            "BENCH_MEMBERS_REPEAT": "1",
            "BENCH_MEMBERS_CONNECTIONS": "1,4",
            "BENCH_IMPORT_ROWS": "3000",
            "BENCH_REDEEM_COUNT": "200",
        },  # fmt: skip
    ),
    "cloudstore": Spec(
        redis_db=10,
        redis_var="BENCH_CLOUDSTORE_REDIS_URL",
        quick={
            **QUICK_STAFF,
            "BENCH_STORES": "200",
            "BENCH_CS_PRODUCTS": "200",
            "BENCH_CLOUDSTORE_DURATION": "2s",
            "BENCH_CLOUDSTORE_REPEAT": "1",
            "BENCH_CLOUDSTORE_CONNECTIONS": "2",
            "BENCH_CS_VIEW_REQUESTS": "20",
            "BENCH_RACE_RUNS": "1",
            "BENCH_RACE_SWEEP": "",
            "BENCH_RACE_CHECKOUTS": "100",
            "BENCH_RACE_STOCK": "20",
            "BENCH_BULK_RUNS": "1",
            "BENCH_BULK_STORES": "2",
            "BENCH_CS_QUIET_BUDGET": "10",
        },  # fmt: skip
    ),
    "redpackets": Spec(
        redis_db=11,
        redis_var="BENCH_REDPACKETS_REDIS_URL",
        env={"CELERY_TASK_ALWAYS_EAGER": "true"},
        quick={
            "BENCH_STORES": "60",
            "BENCH_STAFF": "400",
            "BENCH_RP_CLAIMERS": "300",
            "BENCH_RP_SHARES": "100",
            "BENCH_RP_PGBENCH_CLIENTS": "2",
            "BENCH_RP_PGBENCH_SECONDS": "2",
            "BENCH_RP_RACE_THREADS": "16",
            "BENCH_RP_RACE_PROCESSES": "4",
            "BENCH_SOAK_OPS": "600",
            "BENCH_SOAK_THREADS": "4",
            "BENCH_RP_QUIET_BUDGET": "10",
        },  # fmt: skip
    ),
    "commission": Spec(
        database="bench_commission",
        database_var="BENCH_COMMISSION_DATABASE_URL",
        redis_db=6,
        redis_var="BENCH_COMMISSION_REDIS_URL",
        env={"CELERY_TASK_ALWAYS_EAGER": "false"},
        quick={
            "BENCH_COMM_ORDERS": "20000",
            "BENCH_COMM_MEMBERS": "5000",
            "BENCH_COMM_GUIDES": "200",
            "BENCH_COMM_STORES": "10",
            "BENCH_COMM_RANGE": "5000",
            "BENCH_COMM_QUIET": "5",
        },  # fmt: skip
    ),
    "partner": Spec(
        redis_db=12,
        redis_var="BENCH_PARTNER_REDIS_URL",
        # Real Celery workers deliver the webhooks, to a receiver on 127.0.0.1.
        env={"CELERY_TASK_ALWAYS_EAGER": "false", "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true"},
        quick={
            **QUICK_STAFF,
            "BENCH_PARTNER_MEMBERS": "20000",
            "BENCH_PARTNER_DURATION": "2s",
            "BENCH_PARTNER_REPEAT": "1",
            "BENCH_PARTNER_CONNECTIONS": "4",
            "BENCH_PARTNER_EVENTS": "1000",
            "BENCH_PARTNER_FANOUT_LIMIT": "120",
        },  # fmt: skip
    ),
    "devices": Spec(
        database="retail_bench_devices",
        database_var="BENCH_DEVICES_DATABASE_URL",
        redis_db=7,
        redis_var="BENCH_DEVICES_REDIS_URL",
        in_all=False,  # 2,000 sockets and minutes of heartbeats: run alone, on a quiet machine
        quick={
            "BENCH_DEVICES": "50",
            "BENCH_DEVICES_STEADY": "20",
            "BENCH_DEVICES_ECHO_STEADY": "10",
            "BENCH_DEVICES_STORM": "3",
            "BENCH_DEVICES_REPLAY_DEVICES": "10",
            "BENCH_DEVICES_STORES": "5",
        },  # fmt: skip
    ),
    # 1,000 live conversations at 200 messages/s through one ASGI process: run alone, on a quiet machine.
    "messaging": Spec(
        database="retail_bench_messaging",
        database_var="BENCH_MESSAGING_DATABASE_URL",
        redis_db=14,
        redis_var="BENCH_MESSAGING_REDIS_URL",
        env={"CELERY_TASK_ALWAYS_EAGER": "false"},
        in_all=False,
        quick={
            "BENCH_MSG_CONVERSATIONS": "100",
            "BENCH_MSG_GUIDES": "10",
            "BENCH_MSG_RATE": "20",
            "BENCH_MSG_DURATION": "10",
            "BENCH_MSG_WARMUP": "2",
        },  # fmt: skip
    ),
    # A mass message to 100,000 members with the monthly cap applied (about 2 minutes).
    "messaging_mass": Spec(
        database="retail_bench_messaging_mass",
        database_var="BENCH_MESSAGING_MASS_DATABASE_URL",
        redis_db=15,
        redis_var="BENCH_MESSAGING_MASS_REDIS_URL",
        env={"CELERY_TASK_ALWAYS_EAGER": "false"},
        in_all=False,
        quick={"BENCH_MASS_MEMBERS": "10000", "BENCH_MASS_GUIDES": "20"},
    ),
    "body_limit": Spec(database="", in_all=False),
    # The face engine alone (no database, no server): about 2 minutes of CPU; run it alone.
    "faces": Spec(
        database="",
        in_all=False,
        quick={
            "BENCH_FACES_ROUNDS": "1",
            "BENCH_FACES_DETECT_RUNS": "3",
            "BENCH_FACES_QUERIES": "100",
            "BENCH_FACES_UNIQUE_QUERIES": "20",
            "BENCH_FACES_QUIET": "5",
        },  # fmt: skip
    ),
    # The kiosk's identify end to end vs bare detection, and 200 devices' heartbeats while 20 kiosks
    # send frames: one server, its face worker, minutes of CPU; run it alone, on a quiet machine.
    "attendance": Spec(
        database="retail_bench_attendance",
        database_var="BENCH_ATTENDANCE_DATABASE_URL",
        redis_db=8,
        redis_var="BENCH_ATTENDANCE_REDIS_URL",
        in_all=False,
        quick={
            "BENCH_ATT_ROUNDS": "1",
            "BENCH_ATT_RUNS": "5",
            "BENCH_ATT_KIOSKS": "4",
            "BENCH_ATT_OTHERS": "20",
            "BENCH_ATT_QUIET_STEADY": "5",
            "BENCH_ATT_STEADY": "10",
            "BENCH_ATT_STORES": "5",
        },  # fmt: skip
    ),
}
