"""Log lines keep request paths without query strings and with calendar feed tokens masked:
gunicorn's access and error logs (config/access_log.py, selected by config/gunicorn.py in every
way the service is started) and Django's own request loggers."""

import datetime
import json
import logging
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from gunicorn.config import Config

from clinic.management.commands import serve
from config.access_log import PrivateAccessLogger, private_url
from config.embedded import free_port
from tests.e2e.celery_processes import current_database_url

ROOT = Path(__file__).resolve().parent.parent
FEED_TOKEN = "feedtokenSECRET0123456789abcdefXYZ_-"
SEARCH = "search=Diaz&date_of_birth=1980-02-03"
SECRETS = (FEED_TOKEN, "Diaz", "1980-02-03", "date_of_birth", "Bearer")
GUNICORN_CONFIG = ["--config", "python:config.gunicorn"]


def assert_private(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"/api/v1/patients/?{SEARCH}", "/api/v1/patients/"),
        (f"/calendar/{FEED_TOKEN}.ics", "/calendar/****.ics"),
        (f"/calendar/{FEED_TOKEN}.ics?x=1", "/calendar/****.ics"),
        (f"GET /api/v1/patients/?{SEARCH} HTTP/1.1", "GET /api/v1/patients/ HTTP/1.1"),
        ("https://clinic.example/admin/?q=Diaz#top", "https://clinic.example/admin/"),
        ("/api/v1/me/calendar-feed/", "/api/v1/me/calendar-feed/"),
    ],
)
def test_private_url_drops_the_query_and_masks_feed_tokens(url, expected):
    assert private_url(url) == expected


# The logger class, fed as gunicorn feeds it -------------------------------------------------------


def gunicorn_logger(tmp_path, access_log_format=None) -> PrivateAccessLogger:
    cfg = Config()
    cfg.set("accesslog", str(tmp_path / "access.log"))
    cfg.set("errorlog", str(tmp_path / "error.log"))
    if access_log_format:
        cfg.set("access_log_format", access_log_format)
    return PrivateAccessLogger(cfg)


def log_request(logger: PrivateAccessLogger, raw_uri: str, referer: str = "-") -> None:
    path, _, query = raw_uri.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": raw_uri,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.7",
        "HTTP_REFERER": referer,
        "HTTP_AUTHORIZATION": "Bearer abc",
    }
    request = SimpleNamespace(
        headers=[("REFERER", referer), ("AUTHORIZATION", "Bearer abc")], uri=raw_uri
    )
    response = SimpleNamespace(status="200 OK", sent=42, headers=[])
    logger.access(response, request, environ, datetime.timedelta(milliseconds=5))


def test_the_access_log_line_has_the_path_only_and_the_feed_token_masked(tmp_path):
    logger = gunicorn_logger(tmp_path)

    log_request(logger, f"/calendar/{FEED_TOKEN}.ics?from=2026-12-01")
    log_request(
        logger,
        f"/api/v1/patients/?{SEARCH}",
        referer="https://clinic.example/admin/patients/patient/?q=Diaz",
    )

    feed, search = (tmp_path / "access.log").read_text().splitlines()
    assert '"GET /calendar/****.ics HTTP/1.1" 200 42' in feed
    assert '"GET /api/v1/patients/ HTTP/1.1" 200 42' in search
    assert '"https://clinic.example/admin/patients/patient/"' in search
    assert_private(feed + search)


def test_a_custom_format_naming_the_query_or_credentials_gets_dashes(tmp_path):
    logger = gunicorn_logger(
        tmp_path,
        "%(U)s q=%(q)s %({referer}i)s %({query_string}e)s %({raw_uri}e)s %({authorization}i)s",
    )

    log_request(logger, f"/calendar/{FEED_TOKEN}.ics?{SEARCH}", referer=f"/x/?{SEARCH}")

    line = (tmp_path / "access.log").read_text().strip()
    assert line == "/calendar/****.ics q=- /x/ - /calendar/****.ics -"


def test_the_error_log_names_the_failed_request_by_its_path_only(tmp_path):
    logger = gunicorn_logger(tmp_path)

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        # What gunicorn's worker logs when the application raises.
        logger.exception("Error handling request %s", f"/api/v1/patients/?{SEARCH}")

    text = (tmp_path / "error.log").read_text()
    assert "Error handling request /api/v1/patients/" in text
    assert_private(text)


# Django's own request log -------------------------------------------------------------------------


@pytest.fixture
def django_request_log(caplog):
    # The "django" logger does not propagate to the root, where caplog listens.
    logger = logging.getLogger("django.request")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)


@pytest.mark.django_db
def test_djangos_request_log_masks_the_feed_token(client, django_request_log):
    response = client.get(f"/calendar/{FEED_TOKEN}.ics?{SEARCH}")

    assert response.status_code == 404
    messages = {r.getMessage() for r in django_request_log.records if r.name == "django.request"}
    assert messages == {"Not Found: /calendar/****.ics"}


# Every way the service is started -----------------------------------------------------------------


def test_every_starter_runs_gunicorn_with_the_private_logger():
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = json.loads(
        re.search(r"^CMD (\[.*?\])", dockerfile, re.M | re.S).group(1).replace("\\\n", "")
    )
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    bench = (ROOT / "bench" / "run.py").read_text()

    for argv in (
        cmd,
        compose["services"]["web"]["command"],
        serve.Command()._commands(8000)["web"],
    ):
        assert "gunicorn" in " ".join(argv)
        at = argv.index("--config")
        assert argv[at : at + 2] == GUNICORN_CONFIG
    assert '"--config",\n            "python:config.gunicorn",' in bench


def test_make_runs_gunicorn_writes_no_query_string_or_feed_token(db, tmp_path):
    # given: the web server exactly as `make run` (serve) starts it, on the test database
    port = free_port()
    argv = serve.Command()._commands(port)["web"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": current_database_url(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "web.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        web = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/schema/", timeout=5)
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                assert web.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.3)

        # when: a feed is fetched and a patient searched for
        statuses = []
        for path, headers in [
            (f"/calendar/{FEED_TOKEN}.ics?{SEARCH}", {}),
            (f"/api/v1/patients/?{SEARCH}", {"Referer": f"{base}/admin/?q=Diaz"}),
        ]:
            try:
                urllib.request.urlopen(
                    urllib.request.Request(base + path, headers=headers), timeout=30
                )
            except urllib.error.HTTPError as error:
                statuses.append(error.code)
    finally:
        web.terminate()
        web.wait(timeout=30)

    # then
    assert statuses == [404, 401]
    text = log_path.read_text()
    assert '"GET /calendar/****.ics HTTP/1.1" 404' in text
    assert '"GET /api/v1/patients/ HTTP/1.1" 401' in text
    assert f'"{base}/admin/"' in text
    assert "Not Found: /calendar/****.ics" in text  # Django's own line, in the same output
    assert_private(text)


def test_a_worker_keeps_its_start_up_objects_out_of_the_collectors_scans():
    import gc

    from config import gunicorn as gunicorn_config

    gc.unfreeze()
    try:
        gunicorn_config.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
