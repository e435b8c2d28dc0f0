"""Settings, read from the environment.

No variables at all gives the embedded default: SQLite, an in-memory channel layer,
Celery tasks run eagerly and a local-memory cache. ``DATABASE_URL`` and ``REDIS_URL``
switch to PostgreSQL and Redis. ``DJANGO_ENV=production`` turns on the production
hardening (and then ``SECRET_KEY`` and ``ALLOWED_HOSTS`` are required).
"""

import os
import warnings
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"

if PRODUCTION:
    # Read verbatim: django-environ takes a value starting with "$" as the name of another
    # variable, and a random key may start with one.
    try:
        SECRET_KEY = os.environ["SECRET_KEY"]
    except KeyError:
        raise ImproperlyConfigured("Set the SECRET_KEY environment variable") from None
    DEBUG = env.bool("DEBUG", default=False)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
    if not SECRET_KEY or not any(ALLOWED_HOSTS):
        # docker-compose passes unset variables as empty strings: refuse to start.
        raise ImproperlyConfigured("production needs non-empty SECRET_KEY and ALLOWED_HOSTS")
else:
    SECRET_KEY = os.environ.get("SECRET_KEY") or "dev-only-insecure-key-change-me-" + "x" * 32
    # Off unless asked for: the demo shows the product's own error pages (and the API its error
    # shape), never Django's technical pages listing every URL.
    DEBUG = env.bool("DEBUG", default=False)
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "channels",
    "axes",
    "oauth2_provider",
    "retail",
    "retail.partners",
    "retail.webhooks",
    "members",
    "cloudstore",
    "redpackets",
    "devices",
    "attendance",
    "guides",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "retail.middleware.BodySizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "retail.middleware.LanguageMiddleware",
    "retail.middleware.CleanInputMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Logs partner calls once the request's transaction has ended (kept even when rolled back).
    "retail.partners.activity.PartnerActivityMiddleware",
    "retail.middleware.TenantMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "retail.urls"
WSGI_APPLICATION = "retail.wsgi.application"
ASGI_APPLICATION = "retail.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "retail.context_processors.tenant",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
# Each ASGI worker process runs its requests' synchronous code on one thread
# (retail.asgi_http), so it holds one persistent connection: connections = worker processes,
# however many requests are in flight. The tenancy settings are transaction-local, so a reused
# connection (or PgBouncer in transaction mode) carries nothing from one request to the next.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20})
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery --------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        # Fails open (retail/cache.py): with Redis down a read finds nothing and a write is
        # dropped, with a warning, so pages and the API keep answering. The short socket timeouts
        # keep an unreachable (not just refusing) Redis from holding requests up.
        "default": {
            "BACKEND": "retail.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "retail",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
        },
        # The simulated payment and payout providers' own records (a real provider's database).
        "sim": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # One simulated provider per database, so benchmarks and test runs never meet.
            "KEY_PREFIX": f"retail-sim:{DATABASES['default']['NAME']}",
            "TIMEOUT": None,
        },
    }
    # Redis pub/sub: a group send is one PUBLISH, and a process's subscriptions push each message
    # to its sockets (channels-redis's list-based layer takes three round trips a group send and
    # one more to pop each delivery; at chat rates that halves what one process serves). Like that
    # layer, it keeps nothing for a socket that is gone: messages are stored, and a page that
    # reconnects reads what it missed. CHANNEL_LAYER=core selects the list-based layer.
    _list_layer = env.str("CHANNEL_LAYER", default="pubsub") == "core"
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer"
            if _list_layer
            else "channels_redis.pubsub.RedisPubSubChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, the same as the list-based
            # layer's 5 s BZPOPMIN: an idle consumer's read then times out and its websocket drops.
            # A read timeout above the BZPOPMIN's keeps idle sockets open.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 2}],
                "prefix": "retail:ch",
                # The list-based layer only: all of a process's sockets share one Redis list, and
                # the capacity bounds it: at the default 100, a burst of deliveries to one busy
                # process is dropped. Messages still expire after 60 s.
                **({"capacity": env.int("CHANNEL_CAPACITY", default=10_000)} if _list_layer else {}),
            },
        }
    }
    CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # Kept on disk so that every process (server, seed, worker) sees the same provider records.
        "sim": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(env.path("SIM_PROVIDER_DIR", default=BASE_DIR / "var" / "sim-providers")),
            "TIMEOUT": None,
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        },
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A worker rides out a broker (Redis) outage and reconnects on its own, however long it lasts:
# by default it gives up after 100 attempts (about 45 minutes) and exits for good. Tasks running
# when the connection drops are cancelled and redelivered (they are idempotent, acks_late).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# A message a worker took but never acknowledged (acks_late: the worker died) goes back to the
# queue after this long. It must outlast the longest task (a 500,000-row member import: 2-3
# minutes by the 100,000-row benchmark) and the longest retry back-off (BrandTask waits up to
# 600 s, and a waiting message is held unacknowledged too), or a task still running or waiting
# is handed to a second worker.
# Member imports and exports also have a lease, so a dead worker's job is re-queued within
# minutes by members.tasks.sweep_jobs rather than after this timeout.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 15 * 60}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {
    # Unpaid cloud-store orders give their stock back; payments whose notice never came are asked for.
    "cloudstore-minutely": {"task": "cloudstore.tasks.minutely", "schedule": 60.0},
    # Expired red packets return their money; pending withdrawals and top-ups are asked after.
    "redpackets-minutely": {"task": "redpackets.tasks.minutely", "schedule": 60.0},
    # 03:00 China time: reconcile every brand's ledger and withdrawals.
    "redpackets-nightly": {"task": "redpackets.tasks.nightly", "schedule": crontab(hour=19, minute=0)},
    # Paid orders whose attribution task was lost are attributed; approved settlements get paid.
    "guides-sweep": {"task": "guides.tasks.every_five_minutes", "schedule": 300.0},
    # Each brand's settlement period is closed into statements an hour after it ends.
    "guides-hourly": {"task": "guides.tasks.hourly", "schedule": crontab(minute=7)},
    # 02:00 China time: expire points past their date, re-apply tag rules.
    "nightly-membership": {
        "task": "members.tasks.nightly_membership",
        "schedule": crontab(hour=18, minute=0),
    },
    # Member imports and exports whose worker died (lease expired) are re-queued or failed.
    "members-job-sweep": {"task": "members.tasks.sweep_jobs", "schedule": 60.0},
    # Files with personal data (exports, imports, error reports) are deleted once expired.
    "private-files-expiry": {"task": "retail.tasks.expire_private_files", "schedule": crontab(minute=23)},
    # Partner calls older than PARTNER_CALL_RETENTION_DAYS leave the activity log.
    "partners-purge-calls": {"task": "retail.partners.tasks.purge_calls", "schedule": crontab(minute=53)},
    # The first answers kept for API retries (Idempotency-Key) are deleted after 24 hours.
    "idempotency-purge": {"task": "retail.tasks.purge_idempotency", "schedule": crontab(minute=41)},
    # Devices whose heartbeats stopped go offline, long-offline ones alert their store's managers
    # (and webhooks) once; spent device tickets and pairing codes are deleted after a day.
    "devices-minutely": {"task": "devices.tasks.minutely", "schedule": 60.0},
    # Webhook endpoints with a delivery due (retries, kicks lost with a worker) get their task.
    "webhooks-sweep": {"task": "retail.webhooks.tasks.sweep", "schedule": 30.0},
    # Finished webhook deliveries and their attempts leave the log after WEBHOOK_LOG_RETENTION_DAYS.
    "webhooks-purge": {"task": "retail.webhooks.tasks.purge", "schedule": crontab(minute=17)},
    # 03:30 China time: punches, access and day records past each brand's retention are deleted, and
    # the face encodings of people who left or have no consent (attendance/tasks.py).
    "attendance-daily": {"task": "attendance.tasks.daily", "schedule": crontab(hour=19, minute=30)},
    # Scheduled mass messages whose time has come are sent; sends whose worker died are resumed.
    "messaging-broadcasts": {"task": "guides.messaging.tasks.broadcasts_minutely", "schedule": 60.0},
}

# --- Outbox (retail/outbox.py) -----------------------------------------------------------
# Every event an app emits, and who is called after its transaction commits: the one list of
# subscribers. Each is `fn(*, brand_id, name, payload)`, given as a dotted path.
OUTBOX_SUBSCRIBERS: dict[str, list] = {
    # cloudstore/events.py; payload: {"order_id", ...}
    "order.paid": ["guides.subscriptions.on_order_paid"],  # commission: attribute the order
    "order.refunded": ["guides.subscriptions.on_order_refunded"],  # commission: claw back
    "order.cancelled": [],
    "order.status": [],
    # guides/events.py
    "order.attributed": [],
    "orders.attributed": [],
    "commission.clawed_back": [],
    "statement.approved": [],
    "statement.paid": [],
    # redpackets/events.py
    "packet.sent": [],
    "packet.claimed": [],
    "packet.expired": [],
    "withdrawal.succeeded": [],
    "withdrawal.failed": [],
    # members/events.py (webhooks: member.joined, member.merged)
    "member.joined": ["guides.subscriptions.on_member_joined"],  # conversation and welcome message
    "member.merged": [],
    # members/events.py; payload {"member_ids", "guide_id", "previous_guide_id", "reason"}: these
    # members have a new exclusive guide (messaging tells them who it is)
    "member.guide_changed": ["guides.subscriptions.on_member_guide_changed"],
    # devices/services.py
    "device.events": [],  # payload: {"device_id", "event_ids"}: events stored once each
    # payload: {"device_id", "store_id", "name"}: offline past the alert delay (webhook device.offline)
    "device.offline": ["guides.subscriptions.on_device_offline"],  # the store's managers are told
    # payload: {"device_id"}: back after an offline alert (webhook device.online)
    "device.online": ["guides.subscriptions.on_device_online"],  # those told are told it is back
    # attendance/services.py; payload: {"staff_id", "other_id", "staff", "other"}: a face refused
    # at enrollment because it is already enrolled for another person
    "face.duplicate": ["guides.subscriptions.on_face_duplicate"],  # the brand's admins are told
    # retail/services.py: a staff member marked as left; payload {"staff_id"}
    "staff.left": [
        "attendance.subscriptions.on_staff_left",  # their face encodings are deleted
        "guides.subscriptions.on_staff_left",  # their chat sockets are closed
    ],
    # attendance/records.py; payload: {"punch_id", "staff_id", "store_id", "source", "occurred_at",
    # "offline"}: a punch was recorded once (webhook punch.recorded; the person is told)
    "punch.recorded": ["guides.subscriptions.on_punch_recorded"],
    # attendance/kiosk.py; payload: {"device_id", "store_id", "name", "refusals", "minutes"}:
    # repeated refusals of faces or PINs at one device (the store's managers are alerted)
    "access.alert": ["guides.subscriptions.on_access_alert"],
}

# --- Face attendance (attendance/, docs/attendance.md) ---------------------------------------
# Worker processes for face detection and encoding (attendance/pool.py); 0: in the caller's thread.
# Threads that run websocket frames' database work (chat, kiosks' frames): see retail/socket_db.py.
SOCKET_DB_THREADS = env.int("SOCKET_DB_THREADS", default=2)
FACE_WORKERS = env.int("FACE_WORKERS", default=1)
# Their CPU priority (os.nice): the server's event loop comes first on a busy machine.
FACE_WORKER_NICE = env.int("FACE_WORKER_NICE", default=10)
# Keys that encrypt face encodings at rest, "key_id:fernet_key", newest first (rotation:
# docs/attendance.md). Production must set its own; the embedded default derives one from SECRET_KEY.
FACE_ENCRYPTION_KEYS = env.list("FACE_ENCRYPTION_KEYS", default=[])
if not FACE_ENCRYPTION_KEYS and not PRODUCTION:
    import base64 as _b64
    import hashlib as _hashlib

    FACE_ENCRYPTION_KEYS = [
        "dev:" + _b64.urlsafe_b64encode(_hashlib.sha256(("face:" + SECRET_KEY).encode()).digest()).decode()
    ]

# Refusals at one device within 10 minutes that alert the store's managers (attendance/kiosk.py).
ATTENDANCE_REFUSAL_ALERT = env.int("ATTENDANCE_REFUSAL_ALERT", default=5)

# --- Devices (devices/, docs/kiosk-protocol.md) ---------------------------------------------
# Websocket routes of native devices (no origin check, no cookies; retail/routing.py).
DEVICE_WEBSOCKET_ROUTES = ["devices.routing.websocket_urlpatterns"]
# Browser websocket routes of the apps (origin check and session, like the staff socket).
BROWSER_WEBSOCKET_ROUTES = ["guides.messaging.routing.websocket_urlpatterns"]
# What answers live identify and punch frames and stores offline batches (a dotted path: devices
# imports nothing of attendance); None: events are only stored.
DEVICE_EVENT_HANDLER = "attendance.kiosk.handler"
DEVICE_PAIRING_CODE_SECONDS = 600  # a pairing code is valid 10 minutes
DEVICE_TICKET_SECONDS = 60  # a websocket ticket fetched over HTTPS
DEVICE_AUTH_TIMEOUT_SECONDS = env.float("DEVICE_AUTH_TIMEOUT_SECONDS", default=5.0)
DEVICE_HEARTBEAT_SECONDS = env.int("DEVICE_HEARTBEAT_SECONDS", default=10)
# A heartbeat's time is written to the database at most this often per device (the dashboard's
# "last seen"); the live state comes from the connection itself.
DEVICE_SEEN_WRITE_SECONDS = env.int("DEVICE_SEEN_WRITE_SECONDS", default=30)
# An online device not seen for this long (its server process died) is marked offline.
DEVICE_OFFLINE_AFTER_SECONDS = env.int("DEVICE_OFFLINE_AFTER_SECONDS", default=90)
# A device offline this long raises one alert to its store's managers (and a webhook).
DEVICE_OFFLINE_ALERT_SECONDS = env.int("DEVICE_OFFLINE_ALERT_SECONDS", default=180)
# Per-device frame budget: a token bucket of this many frames, refilled per second.
DEVICE_RATE_BURST = env.int("DEVICE_RATE_BURST", default=60)
DEVICE_RATE_PER_SECOND = env.float("DEVICE_RATE_PER_SECOND", default=20.0)

# --- Demo data (manage.py seed_demo) --------------------------------------------------------
# The apps' demo seeders, in order, as dotted paths (the kernel's command imports no app).
# "setup" runs per brand inside the command's transaction, given (brand, stores); "activity"
# runs per brand afterwards, given (brand), through the services in the brand's own scope.
DEMO_SEEDERS = {
    "setup": [
        "cloudstore.demo.seed_catalogue",
        "members.demo.seed_policies",
        "redpackets.demo.seed_redpackets",
        "devices.demo.seed_devices",
    ],
    "activity": ["guides.demo.seed_commission", "attendance.demo.seed_attendance"],
}

# --- Auth -----------------------------------------------------------------------------
AUTH_USER_MODEL = "retail.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "retail.auth_backends.PhoneOrUsernameBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
INVITATION_TTL = timedelta(days=env.int("INVITATION_TTL_DAYS", default=7))

# Lockout after repeated failed logins (django-axes): per account and per address.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "retail.auth_backends.axes_username"
AXES_LOCKOUT_CALLABLE = "retail.views.lockout"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

SESSION_COOKIE_AGE = 60 * 60 * 24 * 14
SESSION_COOKIE_HTTPONLY = True

# --- I18n -----------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- Static ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
# Django serves uploaded files itself only where no CDN/object storage fronts MEDIA_URL.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=not PRODUCTION)
# Files holding personal data (member exports, imports, error reports): outside MEDIA_ROOT, never
# served by the media route or a CDN, only through views that check brand and role
# (retail/private_files.py); deleted PRIVATE_FILE_TTL_DAYS after they are made. Web and workers
# must share this folder.
PRIVATE_MEDIA_ROOT = env.path("PRIVATE_MEDIA_ROOT", default=BASE_DIR / "var" / "private")
PRIVATE_FILE_TTL = timedelta(days=env.int("PRIVATE_FILE_TTL_DAYS", default=7))
# The payment provider shoppers pay through and the payout provider withdrawals go through.
# "sim" (the simulated providers, with their cashier page) is the embedded default; production
# must name both and refuses "sim" unless ALLOW_SIMULATED_PROVIDERS=true marks a staging site.
if PRODUCTION:
    PAYMENT_PROVIDER = env.str("PAYMENT_PROVIDER")
    PAYOUT_PROVIDER = env.str("PAYOUT_PROVIDER")
    if not PAYMENT_PROVIDER or not PAYOUT_PROVIDER:
        raise ImproperlyConfigured("production needs non-empty PAYMENT_PROVIDER and PAYOUT_PROVIDER")
else:
    PAYMENT_PROVIDER = env.str("PAYMENT_PROVIDER", default="sim")
    PAYOUT_PROVIDER = env.str("PAYOUT_PROVIDER", default="sim")
ALLOW_SIMULATED_PROVIDERS = env.bool("ALLOW_SIMULATED_PROVIDERS", default=not PRODUCTION)
# The simulated providers (and their pages) exist only where one of them is configured.
SIMULATED_PROVIDERS_ENABLED = "sim" in (PAYMENT_PROVIDER, PAYOUT_PROVIDER)
if SIMULATED_PROVIDERS_ENABLED and not ALLOW_SIMULATED_PROVIDERS:
    raise ImproperlyConfigured(
        "PAYMENT_PROVIDER or PAYOUT_PROVIDER is the simulated provider 'sim', which moves no real "
        "money: name a real provider, or set ALLOW_SIMULATED_PROVIDERS=true on a staging site"
    )
# How long the simulated cashier's signed payment link stays valid.
SIM_CASHIER_LINK_SECONDS = env.int("SIM_CASHIER_LINK_SECONDS", default=30 * 60)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {"BACKEND": "retail.private_files.PrivateStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Outside production (`make run`: uvicorn, with or without DEBUG) WhiteNoise serves straight
# from the finders, so static files work without collectstatic and edits show up on reload;
# production serves the collected, hashed files only.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=not PRODUCTION)
WHITENOISE_AUTOREFRESH = env.bool("WHITENOISE_AUTOREFRESH", default=not PRODUCTION)
if WHITENOISE_AUTOREFRESH:
    warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")

# Request bodies: anything larger is refused before it is read.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
# Whole request bodies (member CSV imports go up to 50 MB); JSON and form fields are capped
# separately at DATA_UPLOAD_MAX_MEMORY_SIZE.
REQUEST_BODY_MAX_BYTES = env.int("REQUEST_BODY_MAX_BYTES", default=55 * 1024 * 1024)

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    # A partner app's Bearer token (resolved by retail.middleware), else the staff session.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "retail.partners.auth.PartnerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "retail.pagination.Pagination",
    "DEFAULT_PARSER_CLASSES": [
        "retail.parsers.JSONParser",
        "retail.parsers.FormParser",
        "retail.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "retail.schema.AutoSchema",
    "EXCEPTION_HANDLER": "retail.api_base.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # Fails open with a warning when its cache (Redis) is unreachable.
    "DEFAULT_THROTTLE_CLASSES": [
        "retail.throttling.UserRateThrottle",
        # Partner calls: each app's own limit per minute (PartnerApp.rate_limit_per_minute).
        "retail.partners.throttling.PartnerRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"user": env.str("API_USER_RATE", default="6000/min")},
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Smart-guide retail API",
    "DESCRIPTION": "Versioned REST API for brand staff pages and partner ISVs. "
    'Errors always have the shape {"error": {"code", "message", "fields"}}.',
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Request bodies are documented as JSON (the token endpoint says it takes a form): the API
    # also parses forms and multipart for the browsable pages, but clients generated from the
    # schema must send JSON, which alone carries nested objects.
    "PARSER_WHITELIST": [
        "retail.parsers.JSONParser",
        "cloudstore.api.inventory.BulkJSONParser",
    ],
    # Swagger UI and Redoc from our own static files: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Partner apps: client credentials for a Bearer token; the scopes are retail.partners.scopes.SCOPES
    # (retail.schema.PartnerTokenScheme puts each operation's scope in its security requirement).
    "OAUTH2_FLOWS": ["clientCredentials"],
    "OAUTH2_TOKEN_URL": "/api/v1/oauth/token/",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "status" or "kind"; each choice set gets its own schema name.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "cloudstore.models.Order.Status",
        "ProductStatusEnum": "cloudstore.models.Product.Status",
        "CouponStatusEnum": "cloudstore.models.Coupon.Status",
        "ExternalOrderStatusEnum": ["created", "paid", "completed"],
        "OrderStatusChangeEnum": ["paid", "fulfilled", "picked_up", "completed", "cancelled"],
        "CampaignKindEnum": "cloudstore.models.Campaign.Kind",
        "IdentityKindEnum": "members.models.MemberIdentity.Kind",
        "RedPacketKindEnum": "redpackets.models.RedPacket.Kind",
        "RedPacketStatusEnum": "redpackets.models.RedPacket.Status",
        "TopUpStatusEnum": "redpackets.models.TopUp.Status",
        "WithdrawalStatusEnum": "redpackets.models.Withdrawal.Status",
        "RedPacketSourceEnum": "redpackets.models.RedPacket.Source",
        "OrderChannelEnum": "cloudstore.models.Order.Channel",
        "PrecedenceEnum": "guides.models.Precedence",
        "AttributionSourceEnum": "guides.models.Attribution.Source",
        "AttributionExcludedEnum": "guides.models.Attribution.Excluded",
        "CommissionRuleKindEnum": "guides.models.CommissionRule.Kind",
        "SettlementPeriodEnum": "guides.models.CommissionSettings.Period",
        "SettlementPeriodStatusEnum": "guides.models.SettlementPeriod.Status",
        "StatementStatusEnum": "guides.models.Statement.Status",
        "ReattributionStatusEnum": "guides.models.Reattribution.Status",
        "WebhookDeliveryStatusEnum": "retail.webhooks.models.WebhookDelivery.Status",
        "WebhookDisabledReasonEnum": "retail.webhooks.models.WebhookEndpoint.DisabledReason",
        "DeviceKindEnum": "devices.models.Device.Kind",
        "DeviceStateEnum": "devices.api.STATES",
        "DeviceEventTypeEnum": "devices.models.DeviceEvent.Type",
    },
}

# --- Partner apps (retail/partners) ---------------------------------------------------------
# OAuth2 client credentials through django-oauth-toolkit: an app gets Bearer tokens at
# /api/v1/oauth/token/ for a subset of its scopes; secrets are stored hashed; tokens only as
# their checksum (RFC 9700 token storage).
PARTNER_TOKEN_SECONDS = env.int("PARTNER_TOKEN_SECONDS", default=3600)
PARTNER_DEFAULT_RATE_PER_MINUTE = env.int("PARTNER_DEFAULT_RATE_PER_MINUTE", default=600)
# How long the previous secret keeps working after a rotation.
PARTNER_SECRET_GRACE_HOURS = env.int("PARTNER_SECRET_GRACE_HOURS", default=24)
# The share of successful partner reads kept in the activity log (writes and errors: all).
PARTNER_READ_SAMPLE_RATE = env.float("PARTNER_READ_SAMPLE_RATE", default=0.1)
PARTNER_CALL_RETENTION_DAYS = env.int("PARTNER_CALL_RETENTION_DAYS", default=90)
OAUTH2_PROVIDER = {
    "OAUTH2_SERVER_CLASS": "oauthlib.oauth2.BackendApplicationServer",  # client credentials only
    "OAUTH2_VALIDATOR_CLASS": "retail.partners.oauth.PartnerOAuth2Validator",
    "SCOPES_BACKEND_CLASS": "retail.partners.scopes.PartnerScopes",
    "ACCESS_TOKEN_EXPIRE_SECONDS": PARTNER_TOKEN_SECONDS,
    # RFC 9700 (OAuth 2.0 Security BCP) throughout: tokens kept only as their checksum, no
    # implicit or password grant, no tokens in query strings (`check --deploy` stays clean).
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
}

# --- Webhooks (retail/webhooks) -------------------------------------------------------------
# The apps' public event types (each module's EVENTS), imported on first use.
WEBHOOK_EVENT_MODULES = [
    "members.webhooks",
    "cloudstore.webhooks",
    "guides.webhooks",
    "devices.webhooks",
    "attendance.webhooks",
]
# Private, loopback and link-local addresses (and plain http) for endpoints: development and
# tests only; production posts to public https addresses only.
WEBHOOKS_ALLOW_PRIVATE_NETWORKS = env.bool(
    "WEBHOOKS_ALLOW_PRIVATE_NETWORKS", default=DEBUG and not PRODUCTION
)
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.0)
WEBHOOK_READ_TIMEOUT = env.float("WEBHOOK_READ_TIMEOUT", default=5.0)
WEBHOOK_TOTAL_TIMEOUT = env.float("WEBHOOK_TOTAL_TIMEOUT", default=10.0)
# Deliveries claimed per round, and how long a claim holds them before they are due again.
WEBHOOK_BATCH_SIZE = env.int("WEBHOOK_BATCH_SIZE", default=50)
WEBHOOK_LEASE_SECONDS = env.int("WEBHOOK_LEASE_SECONDS", default=120)
WEBHOOK_TASK_SECONDS = env.int("WEBHOOK_TASK_SECONDS", default=60)
# Retried for this long after the event, then given up; an endpoint failing this long is disabled.
WEBHOOK_GIVE_UP_DAYS = env.int("WEBHOOK_GIVE_UP_DAYS", default=3)
WEBHOOK_DISABLE_AFTER_DAYS = env.int("WEBHOOK_DISABLE_AFTER_DAYS", default=3)
WEBHOOK_SECRET_GRACE_HOURS = env.int("WEBHOOK_SECRET_GRACE_HOURS", default=24)
WEBHOOK_MAX_ENDPOINTS_PER_APP = env.int("WEBHOOK_MAX_ENDPOINTS_PER_APP", default=20)
WEBHOOK_LOG_RETENTION_DAYS = env.int("WEBHOOK_LOG_RETENTION_DAYS", default=30)
# Deliveries run on their own queue (the worker consumes "celery,webhooks"), so a backlog of
# webhooks never holds up the other tasks.
CELERY_TASK_ROUTES = {"retail.webhooks.tasks.*": {"queue": "webhooks"}}

# --- Logging --------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Outgoing staff notifications (invitation links, ...): "console" logs them.
NOTIFY_BACKEND = env.str("NOTIFY_BACKEND", default="retail.notify.ConsoleSender")
PUSH_BACKEND = env.str("PUSH_BACKEND", default="guides.push.LogPush")
# Messaging (guides/messaging): new shopper messages are pushed to the guide at most once per
# window, summarised; a shopper who has not read the guide's message after the delay gets a notice
# through the brand's channel (SMS through NOTIFY_BACKEND, or the WeChat-template sender below);
# mass messages reach shoppers on the chat page live from a follow-up task per batch.
MESSAGING_PUSH_WINDOW_SECONDS = env.int("MESSAGING_PUSH_WINDOW_SECONDS", default=60)
MESSAGING_NOTICE_DELAY_SECONDS = env.int("MESSAGING_NOTICE_DELAY_SECONDS", default=120)
MESSAGING_WECHAT_BACKEND = env.str(
    "MESSAGING_WECHAT_BACKEND", default="guides.messaging.channels.SimulatedWeChatTemplate"
)
MESSAGING_BROADCAST_LIVE = env.bool("MESSAGING_BROADCAST_LIVE", default=True)
SITE_URL = env.str("SITE_URL", default="http://localhost:8000")
# The platform operator: ledger mismatches and server errors are mailed here (ADMINS=a@x,b@y).
ADMINS = [("Platform operator", a) for a in env.list("ADMINS", default=[])]
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
SERVER_EMAIL = env.str("SERVER_EMAIL", default="platform@localhost")

# --- Production hardening -------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
