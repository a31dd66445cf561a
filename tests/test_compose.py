"""docker-compose.yml, .env.example and the Dockerfile, checked offline (no Docker, no database).

The compose file is validated against the Compose Specification's JSON schema that
check-jsonschema vendors, then against what the schema cannot say: dependencies name defined
services, every long-running service has a health check, the stack has its five services, and the
`scale` profile (PgBouncer, a replica, RabbitMQ) stays optional.
The same helpers run on deliberately broken copies, so a check that can never fail would show.
"""

import configparser
import functools
import json
import re
import tomllib
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"

REQUIRED_SERVICES = {"web", "worker", "beat", "postgres", "redis"}
APP_SERVICES = {"web", "worker", "beat"}
# What the settings cannot run without in production (DEBUG off).
REQUIRED_IN_PRODUCTION = {
    "SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "DEBUG",
    "EMAIL_URL",
}


# Helpers: each returns a list of problems (empty when the document is fine) -------------------


@functools.cache
def compose_validator():
    """A validator of the vendored compose-spec schema, of the draft its ``$schema`` names."""
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def schema_errors(doc) -> list[str]:
    """``<path>: <message>`` for every place where ``doc`` breaks the compose spec."""
    return sorted(
        f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
        for error in compose_validator().iter_errors(doc)
    )


def services_of(doc) -> dict:
    return doc.get("services") or {}


def dependencies_of(service) -> dict[str, str]:
    """``{dependency: condition}`` from ``depends_on`` in its list or its mapping form."""
    depends_on = service.get("depends_on") or {}
    if isinstance(depends_on, list):
        return dict.fromkeys(depends_on, "service_started")
    return {
        name: (spec or {}).get("condition", "service_started") for name, spec in depends_on.items()
    }


def has_healthcheck(service) -> bool:
    healthcheck = service.get("healthcheck")
    return (
        isinstance(healthcheck, dict)
        and bool(healthcheck.get("test"))
        and healthcheck["test"] not in ("NONE", ["NONE"])
        and healthcheck.get("disable") not in (True, "true")
    )


def dangling_dependencies(doc) -> list[str]:
    """Dependencies on services the file does not define, or on a health it cannot report."""
    services = services_of(doc)
    problems = []
    for name, service in services.items():
        for dependency, condition in dependencies_of(service).items():
            if dependency not in services:
                problems.append(f"{name} depends on undefined service {dependency!r}")
            elif condition == "service_healthy" and not has_healthcheck(services[dependency]):
                problems.append(f"{name} waits for {dependency} to be healthy; it has no check")
    return problems


def one_shot_services(doc) -> set[str]:
    """Services others wait on to exit successfully (e.g. migrate): they have no health."""
    return {
        dependency
        for service in services_of(doc).values()
        for dependency, condition in dependencies_of(service).items()
        if condition == "service_completed_successfully"
    }


def missing_healthchecks(doc) -> list[str]:
    one_shots = one_shot_services(doc)
    return [
        f"{name} has no healthcheck"
        for name, service in services_of(doc).items()
        if name not in one_shots and not has_healthcheck(service)
    ]


def missing_services(doc) -> list[str]:
    return [f"no {name} service" for name in sorted(REQUIRED_SERVICES - set(services_of(doc)))]


def compose_default(value: str) -> str:
    """A value as compose runs it when the variable it names is unset: ``${NAME:-default}``."""
    match = re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-(.*)\}", value)
    return match.group(1) if match else value


def profiled_services(doc) -> set[str]:
    """Services that start only when one of their profiles is asked for."""
    return {name for name, service in services_of(doc).items() if service.get("profiles")}


def hard_dependencies_on_profiles(doc) -> list[str]:
    """Services of the default profile that could not start without an optional profile: they
    depend on a profiled service without ``required: false``."""
    services = services_of(doc)
    profiled = profiled_services(doc)
    problems = []
    for name, service in services.items():
        if name in profiled:
            continue
        depends_on = service.get("depends_on") or {}
        for dependency in depends_on:
            spec = depends_on[dependency] if isinstance(depends_on, dict) else None
            required = (spec or {}).get("required", True) not in (False, "false")
            if dependency in profiled and required:
                problems.append(f"{name} needs {dependency} of an optional profile")
    return problems


def ini_sections(text: str) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return {section: dict(parser[section]) for section in parser.sections()}


def env_file_variables(text: str) -> dict[str, str]:
    """``NAME=value`` lines that are in effect (not commented out)."""
    return dict(re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", text, flags=re.MULTILINE))


def missing_env_variables(text: str) -> list[str]:
    return sorted(REQUIRED_IN_PRODUCTION - set(env_file_variables(text)))


# Fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def compose_doc():
    """The parsed compose file, YAML anchors resolved into independent copies."""
    parsed = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return json.loads(json.dumps(parsed))


# The real files --------------------------------------------------------------------------------


def test_compose_file_follows_the_compose_spec(compose_doc):
    assert schema_errors(compose_doc) == []
    assert "version" not in compose_doc  # obsolete; compose warns about it


def test_compose_file_has_the_whole_stack(compose_doc):
    assert missing_services(compose_doc) == []


def test_every_dependency_is_a_defined_service(compose_doc):
    assert dangling_dependencies(compose_doc) == []


def test_every_long_running_service_has_a_healthcheck(compose_doc):
    assert missing_healthchecks(compose_doc) == []
    assert one_shot_services(compose_doc) <= {"migrate"}


def test_app_services_wait_for_healthy_backing_services_and_migrations(compose_doc):
    services = services_of(compose_doc)
    for name in APP_SERVICES:
        dependencies = dependencies_of(services[name])
        assert dependencies["postgres"] == "service_healthy", name
        assert dependencies["redis"] == "service_healthy", name
        migrators = [
            dependency
            for dependency, condition in dependencies.items()
            if condition == "service_completed_successfully"
            and "migrate" in services[dependency].get("command", [])
        ]
        assert migrators, f"{name} starts before migrations ran"


def test_app_services_share_the_image_env_file_and_server_urls(compose_doc):
    services = services_of(compose_doc)
    for name in APP_SERVICES:
        service = services[name]
        assert service["image"] == services["migrate"]["image"], name
        assert service["env_file"] == ".env", name
        # Postgres unless APP_DATABASE_URL (the scale profile's PgBouncer) says otherwise.
        assert compose_default(service["environment"]["DATABASE_URL"]) == (
            "postgres://continuum:continuum@postgres:5432/continuum"
        ), name
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0", name


SCALE_SERVICES = {"pgbouncer", "postgres-replica", "rabbitmq"}


def test_the_scale_profile_adds_pooler_replica_and_rabbitmq_and_the_default_needs_none(
    compose_doc,
):
    services = services_of(compose_doc)

    assert profiled_services(compose_doc) == SCALE_SERVICES
    assert all(services[name]["profiles"] == ["scale"] for name in SCALE_SERVICES)
    assert hard_dependencies_on_profiles(compose_doc) == []
    # With the profile up, the app's processes wait for its services to be healthy.
    for name in APP_SERVICES | {"migrate"}:
        dependencies = dependencies_of(services[name])
        assert {dependencies[scale] for scale in SCALE_SERVICES} == {"service_healthy"}, name


def test_pgbouncer_pools_transactions_in_front_of_the_primary(compose_doc):
    configs = {
        mount["target"]: compose_doc["configs"][mount["source"]]["content"]
        for mount in services_of(compose_doc)["pgbouncer"]["configs"]
    }
    ini = ini_sections(configs["/etc/pgbouncer/pgbouncer.ini"])

    assert ini["pgbouncer"]["pool_mode"] == "transaction"
    assert ini["databases"]["*"] == "host=postgres port=5432"
    assert ini["pgbouncer"]["listen_port"] == "6432"
    # The settings' connection options (jit) are not passed on, and not refused either.
    assert "options" in ini["pgbouncer"]["ignore_startup_parameters"].split(",")
    assert '"continuum"' in configs[ini["pgbouncer"]["auth_file"]]


def test_the_replica_streams_from_the_primary_which_lets_it(compose_doc):
    services = services_of(compose_doc)
    script = services["postgres-replica"]["command"][-1]
    hba_mount = services["postgres"]["configs"][0]
    hba = compose_doc["configs"][hba_mount["source"]]["content"]

    assert "pg_basebackup --host=postgres" in script
    assert "--write-recovery-conf" in script
    assert f"hba_file={hba_mount['target']}" in services["postgres"]["command"]
    assert re.search(r"^host\s+replication\s+all\s+all\s+scram-sha-256$", hba, re.M)


def test_the_scale_settings_shown_in_the_header_point_at_the_profile_s_services(compose_doc):
    header = COMPOSE_FILE.read_text(encoding="utf-8").split("\nname:")[0]
    shown = dict(re.findall(r"^#\s+([A-Z_]+)=(\S+)$", header, flags=re.M))
    hosts = {name: re.search(r"@([^:/]+):(\d+)/", url) for name, url in shown.items()}

    assert shown["DATABASE_POOLER"] == "pgbouncer"
    assert hosts["APP_DATABASE_URL"].groups() == ("pgbouncer", "6432")
    assert hosts["DATABASE_REPLICA_URL"].groups() == ("postgres-replica", "5432")
    assert hosts["CELERY_BROKER_URL"].groups() == ("rabbitmq", "5672")
    assert shown["CELERY_BROKER_URL"].startswith("amqp://")
    rabbitmq = services_of(compose_doc)["rabbitmq"]["environment"]
    assert shown["CELERY_BROKER_URL"].endswith(f"/{rabbitmq['RABBITMQ_DEFAULT_VHOST']}")


def test_env_example_names_what_production_requires():
    text = ENV_EXAMPLE.read_text(encoding="utf-8")

    assert missing_env_variables(text) == []
    assert env_file_variables(text)["DEBUG"] == "0"


def test_dockerfile_copies_every_project_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {
        pattern.rstrip("*")
        for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    copied = set(re.findall(r"^COPY (\S+) \./\1$", DOCKERFILE.read_text(encoding="utf-8"), re.M))

    assert packages - copied == set()
    # Project-level folders the settings read (TEMPLATES DIRS) must reach the image too.
    assert {path.name for path in ROOT.glob("templates") if path.is_dir()} - copied == set()


# The checks can fail -----------------------------------------------------------------------------


def add_dependency_on_missing_service(doc):
    doc["services"]["web"]["depends_on"]["cache"] = {"condition": "service_healthy"}


def list_dependency_on_missing_service(doc):
    doc["services"]["beat"]["depends_on"] = ["postgres", "scheduler"]


def remove_redis(doc):
    del doc["services"]["redis"]


def drop_worker_healthcheck(doc):
    del doc["services"]["worker"]["healthcheck"]


def disable_postgres_healthcheck(doc):
    doc["services"]["postgres"]["healthcheck"] = {"disable": True}


def healthcheck_yes(doc):
    doc["services"]["web"]["healthcheck"] = "yes"


def unknown_top_level_property(doc):
    doc["service"] = {}


def unknown_service_key(doc):
    doc["services"]["worker"]["helthcheck"] = {"test": ["CMD", "true"]}


def bad_dependency_condition(doc):
    doc["services"]["web"]["depends_on"]["redis"] = {"condition": "service_ready"}


def require_rabbitmq(doc):
    del doc["services"]["worker"]["depends_on"]["rabbitmq"]["required"]


@pytest.mark.parametrize(
    ("break_it", "check", "expected"),
    [
        (add_dependency_on_missing_service, dangling_dependencies, "undefined service 'cache'"),
        (list_dependency_on_missing_service, dangling_dependencies, "'scheduler'"),
        (remove_redis, dangling_dependencies, "undefined service 'redis'"),
        (remove_redis, missing_services, "no redis service"),
        (drop_worker_healthcheck, missing_healthchecks, "worker has no healthcheck"),
        (disable_postgres_healthcheck, missing_healthchecks, "postgres has no healthcheck"),
        (disable_postgres_healthcheck, dangling_dependencies, "postgres to be healthy"),
        (healthcheck_yes, schema_errors, "services/web/healthcheck: 'yes' is not of type"),
        (unknown_top_level_property, schema_errors, "(root): 'service' does not match"),
        (unknown_service_key, schema_errors, "'helthcheck' was unexpected"),
        (bad_dependency_condition, schema_errors, "services/web/depends_on"),
        (require_rabbitmq, hard_dependencies_on_profiles, "worker needs rabbitmq"),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
def test_checks_report_a_broken_compose_file(compose_doc, break_it, check, expected):
    assert check(compose_doc) == []

    break_it(compose_doc)

    problems = check(compose_doc)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("variable", sorted(REQUIRED_IN_PRODUCTION))
def test_env_check_reports_a_missing_or_commented_out_variable(variable):
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    commented_out = re.sub(rf"^{variable}=", f"# {variable}=", text, flags=re.MULTILINE)
    removed = re.sub(rf"^{variable}=.*\n", "", text, flags=re.MULTILINE)

    assert missing_env_variables(commented_out) == [variable]
    assert missing_env_variables(removed) == [variable]
