"""config/gunicorn.py: the settings the Dockerfile, docker-compose and the benchmarks serve with."""

import gc
import runpy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "gunicorn.py"


def test_a_worker_freezes_the_loaded_application_out_of_the_collectors_reach():
    hooks = runpy.run_path(str(CONFIG))
    already = gc.get_freeze_count()
    try:
        hooks["post_worker_init"](worker=None)
        assert gc.get_freeze_count() > already
    finally:
        gc.unfreeze()


def test_the_image_and_the_compose_web_service_serve_with_it():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    cmd = dockerfile[dockerfile.index("CMD [") :]
    assert '"--config", "config/gunicorn.py"' in cmd
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    command = compose["services"]["web"]["command"]
    assert command[command.index("--config") + 1] == "config/gunicorn.py"
