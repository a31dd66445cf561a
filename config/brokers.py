"""Which broker a Celery URL names: read by the settings (queues, confirms) and by /health/."""

from urllib.parse import urlsplit

AMQP_SCHEMES = {"amqp", "amqps", "pyamqp"}


def broker_kind(url: str) -> str:
    """``rabbitmq`` for an AMQP URL, ``redis`` otherwise."""
    return "rabbitmq" if urlsplit(url).scheme in AMQP_SCHEMES else "redis"
