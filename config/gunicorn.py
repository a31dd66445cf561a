"""gunicorn's settings for the service, read by every way it is started (``make run``'s
``serve``, the Dockerfile's command, docker-compose's web service, the benchmarks' server):
``gunicorn --config python:config.gunicorn config.wsgi:application``.

Bind address, workers and which logs to write stay on each command line (or in
``GUNICORN_CMD_ARGS`` / ``WEB_CONCURRENCY``).
"""

# Access and error log lines carry paths without query strings and with feed tokens masked
# (config/access_log.py).
logger_class = "config.access_log.PrivateAccessLogger"
