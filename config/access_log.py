"""Request URLs as the logs may keep them: the path without its query string, feed tokens masked.

A query string holds what staff searched for (``?search=Diaz&date_of_birth=…``: a person in
treatment, 42 CFR Part 2), and ``/calendar/<token>.ics`` carries the only credential of a
calendar feed. Both would otherwise reach every access log line, and through it log shipping
and backups. gunicorn's access and error logs go through ``PrivateAccessLogger``
(``config/gunicorn.py`` selects it for every way the service is started); Django's own request
loggers through ``PrivatePathLogFilter`` (``LOGGING`` in the settings).

No Django imports: gunicorn's master process loads this before any application.
"""

import logging
import re

from gunicorn.glogging import Logger

# A query string runs to the next blank or quote (a request line is "GET /path?q HTTP/1.1").
_QUERY = re.compile(r"\?[^\s\"]*")
_FEED_TOKEN = re.compile(r"(/calendar/)[^/\s\"?]+(\.ics)")


def private_url(text: str) -> str:
    """``text`` (a path, URL or request line) without query strings, feed tokens masked."""
    return _FEED_TOKEN.sub(r"\g<1>****\g<2>", _QUERY.sub("", text))


def _private_args(args: tuple) -> tuple:
    return tuple(private_url(arg) if isinstance(arg, str) else arg for arg in args)


# gunicorn's atoms that hold a request URL (``r`` the request line, ``U`` the path, ``f`` the
# referer), and the header and environ atoms a custom access_log_format could name.
_URL_ATOMS = ("r", "U", "f", "{referer}i", "{raw_uri}e", "{path_info}e", "{http_referer}e")
# Never logged, whatever the format says.
_DROPPED_ATOMS = (
    "q",
    "{query_string}e",
    "{authorization}i",
    "{cookie}i",
    "{http_authorization}e",
    "{http_cookie}e",
)


class PrivateAccessLogger(Logger):
    """gunicorn's logger with every request URL made private (``private_url``): in the access
    log's atoms, and in the error log's arguments (``Error handling request /path?query``)."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in _URL_ATOMS:
            if isinstance(atoms.get(key), str):
                atoms[key] = private_url(atoms[key])
        for key in _DROPPED_ATOMS:
            if key in atoms:
                atoms[key] = "-"
        return atoms

    def critical(self, msg, *args, **kwargs):
        super().critical(msg, *_private_args(args), **kwargs)

    def error(self, msg, *args, **kwargs):
        super().error(msg, *_private_args(args), **kwargs)

    def warning(self, msg, *args, **kwargs):
        super().warning(msg, *_private_args(args), **kwargs)

    def info(self, msg, *args, **kwargs):
        super().info(msg, *_private_args(args), **kwargs)

    def debug(self, msg, *args, **kwargs):
        super().debug(msg, *_private_args(args), **kwargs)

    def exception(self, msg, *args, **kwargs):
        super().exception(msg, *_private_args(args), **kwargs)


class PrivatePathLogFilter(logging.Filter):
    """For Django's ``django.request`` ("Not Found: /calendar/<token>.ics") and
    ``django.server`` (the request line, query string and all) loggers: their arguments are
    paths and request lines, made private here."""

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = _private_args(record.args)
        return True
