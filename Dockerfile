# syntax=docker/dockerfile:1
#
# Production-like image of the service. One image runs every process of the stack
# (see docker-compose.yml): the default command serves the API and admin with gunicorn on
# :8000; the worker and beat override it with `celery -A config worker|beat`.
#
#   docker build -t continuum .
#   docker run --env-file .env -p 8000:8000 continuum
#
# Configuration comes from the environment at run time (.env.example lists it); nothing secret
# is baked into the image. DATABASE_URL and REDIS_URL must be set when running it: without
# them the settings would start embedded servers, which is meant for development only. So must
# EMAIL_URL (or EMAIL_BACKEND): without either the settings refuse to start.

FROM python:3.11-slim

# PYTHONPATH: import the project packages from /app (the source tree), never from the copy
# that `pip install .` puts in site-packages: the settings locate BASE_DIR (static files,
# templates, .local/) from their own path, and gunicorn, celery and manage.py must all import
# the same modules.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

# The processes run as this unprivileged user (numeric ids, so orchestrators can verify
# runAsNonRoot).
RUN groupadd --system --gid 10001 continuum \
 && useradd --system --uid 10001 --gid continuum \
        --create-home --home-dir /home/continuum --shell /usr/sbin/nologin continuum

WORKDIR /app

# Only what the service needs: no .venv, .local (embedded servers' data), .env or .git from
# the checkout end up in the image.
COPY pyproject.toml requirements.lock manage.py ./
COPY config ./config
COPY clinic ./clinic
COPY patients ./patients
COPY programs ./programs
COPY scheduling ./scheduling

# Runtime dependencies only (the dev extra is not installed), pinned by the lock file.
RUN pip install -c requirements.lock . \
 && rm -rf build ./*.egg-info \
 && python -m compileall -q /app

# Static files are collected at build time into STATIC_ROOT (.local/static) and served by
# whitenoise. The dummy URLs keep the settings from starting embedded servers, and the dummy
# e-mail backend satisfies their rule that DEBUG off needs EMAIL_URL or EMAIL_BACKEND (set them
# at run time); collectstatic uses none of them, and the values exist only for this command
# (not in the image).
# .local/ is then the one place the service may write (e.g. EMAIL_FILE_PATH); the collected
# static files inside it stay owned by root, read-only for the service.
RUN DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 \
    SECRET_KEY=build-only \
    EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend \
    python manage.py collectstatic --noinput \
 && chown 10001:10001 .local

USER 10001:10001

EXPOSE 8000

# Workers: gunicorn reads WEB_CONCURRENCY (default 1); more options via GUNICORN_CMD_ARGS.
# config/gunicorn.py: log lines without query strings or feed tokens.
CMD ["gunicorn", "config.wsgi:application", \
     "--config", "python:config.gunicorn", \
     "--bind", "0.0.0.0:8000", \
     "--access-logfile", "-", \
     "--worker-tmp-dir", "/dev/shm"]
