"""Gunicorn's settings for the service: ``gunicorn -c config/gunicorn.py config.wsgi:application``
(the Dockerfile's command, docker-compose's web service and the benchmarks' server).

Everything else (bind address, workers, logs) stays on the command line or in
``GUNICORN_CMD_ARGS`` / ``WEB_CONCURRENCY``.
"""

import gc


def post_worker_init(worker):
    """Once the worker has loaded the application, its objects (Django, DRF, the URL
    configuration, the settings: ~150,000) leave the garbage collector's reach. A full
    collection walks every object it tracks: 50–90 ms, during which the worker answers no one,
    a few times a minute under load (a list's items are dicts, and each young collection during
    a request moves the request's objects to the old generation). After the freeze it walks
    only the objects made since, ~10 ms (bench/README.md, http)."""
    gc.freeze()
