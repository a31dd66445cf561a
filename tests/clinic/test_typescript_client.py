"""A TypeScript app flow (tests/typescript/app.ts) type-checked with ``tsc --strict`` against
types that openapi-typescript generates from the schema the service serves; openapi-fetch
types its requests. A field renamed or made nullable without the schema saying so breaks the
build: shown here on doctored copies of the schema. The tools are pinned in
tests/typescript/package.json and installed by ``make install`` (``npm ci``)."""

import copy
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.test import Client

TYPESCRIPT = Path(__file__).resolve().parents[1] / "typescript"
BIN = TYPESCRIPT / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def schema() -> dict:
    answer = Client().get("/api/schema/", {"format": "json"})
    assert answer.status_code == 200
    return answer.json()


def typecheck(schema: dict, folder: Path) -> subprocess.CompletedProcess:
    for name in ("app.ts", "tsconfig.json"):
        shutil.copy(TYPESCRIPT / name, folder / name)
    (folder / "node_modules").symlink_to(TYPESCRIPT / "node_modules")
    (folder / "schema.json").write_text(json.dumps(schema))
    subprocess.run(
        [
            BIN / "openapi-typescript",
            "schema.json",
            "--default-non-nullable",
            "false",
            "-o",
            "schema.d.ts",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return subprocess.run(
        [BIN / "tsc", "-p", "tsconfig.json"], cwd=folder, capture_output=True, text=True
    )


def test_the_app_flow_type_checks_against_the_served_schema(schema, tmp_path):
    result = typecheck(schema, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr


def test_a_field_made_nullable_breaks_the_build(schema, tmp_path):
    doctored = copy.deepcopy(schema)
    doctored["components"]["schemas"]["Patient"]["properties"]["mrn"]["nullable"] = True

    result = typecheck(doctored, tmp_path)

    assert result.returncode != 0
    assert "possibly 'null'" in result.stdout


def test_a_field_renamed_breaks_the_build(schema, tmp_path):
    doctored = copy.deepcopy(schema)
    item = doctored["components"]["schemas"]["ScheduleItem"]
    item["properties"]["start"] = item["properties"].pop("starts_at")
    item["required"] = ["start" if name == "starts_at" else name for name in item["required"]]

    result = typecheck(doctored, tmp_path)

    assert result.returncode != 0
    assert "starts_at" in result.stdout
