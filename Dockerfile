# One image for every process of the production shape: web (uvicorn, ASGI), Celery worker,
# Celery beat and the one-shot migrate job. See docker-compose.yml and docs/operations.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_ENV=production

WORKDIR /app

# Dependencies first so that a code change does not reinstall them. `packages = []` in
# pyproject.toml: installing the project installs its dependencies; the code runs from /app.
COPY pyproject.toml ./
RUN pip install . && pip install --no-deps face_recognition==1.3.0 && rm -rf build *.egg-info

COPY . .

# Hashed, compressed static files for WhiteNoise; the secret and the provider names only have
# to exist at build time (the running containers get theirs from docker-compose.yml).
RUN SECRET_KEY=collectstatic-only-not-a-secret ALLOWED_HOSTS=localhost \
        PAYMENT_PROVIDER=none PAYOUT_PROVIDER=none \
        python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home-dir /app --no-create-home app \
    && mkdir -p /app/media /app/var/private \
    && chown app /app/media /app/var /app/var/private \
    && chmod 700 /app/var/private

USER app
EXPOSE 8000

CMD ["uvicorn", "retail.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--proxy-headers"]
