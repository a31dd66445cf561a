"""gunicorn's settings for the service, read by every way it is started (``make run``'s
``serve``, the Dockerfile's command, docker-compose's web service, the benchmarks' server):
``gunicorn --config python:config.gunicorn config.wsgi:application``.

Bind address, workers and which logs to write stay on each command line (or in
``GUNICORN_CMD_ARGS`` / ``WEB_CONCURRENCY``).
"""

import gc

# Access and error log lines carry paths without query strings and with feed tokens masked
# (config/access_log.py).
logger_class = "config.access_log.PrivateAccessLogger"


def post_worker_init(worker):
    """Once the worker has loaded the application, move what start-up allocated (Django, the
    apps, their modules: alive as long as the worker) out of the garbage collector's scans, so
    a full collection during a request costs what requests allocate, not the whole framework
    (collections of ~25 ms showed as the sessions list's p99 at 2 connections in bench/)."""
    gc.freeze()


# gunicorn's control socket (for `gunicornc`) sits at one path per user, so a second gunicorn of
# the same user on the host (a second web process, the benchmarks' servers) would take it over;
# nothing here uses it.
control_socket_disable = True
