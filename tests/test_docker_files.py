"""docker/ cannot run here; keep it in step with the code by reading it."""
import re

import yaml

from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())
SETTINGS_SOURCE = (REPO / "platform" / "roofwatch" / "settings.py").read_text()
AGENT_SOURCE = "".join(path.read_text() for path in sorted((REPO / "agents").glob("*.py")))
ENGINE_SOURCE = "".join(path.read_text() for path in sorted((REPO / "engine").rglob("*.py")))


def test_compose_runs_the_whole_stack():
    assert {"postgres", "redis", "migrate", "web", "worker", "beat", "agent"} <= set(COMPOSE["services"])


def test_every_variable_compose_sets_for_the_app_is_read_by_the_settings():
    for name, service in COMPOSE["services"].items():
        if service.get("image") != "roofwatch:latest" or name == "agent":
            continue
        for var in service.get("environment", {}):
            assert f'"{var}"' in SETTINGS_SOURCE, f"compose service {name!r} sets {var}, which settings.py never reads"


def test_the_app_services_point_at_the_compose_database_and_broker():
    env = COMPOSE["services"]["web"]["environment"]
    assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
    assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379")
    assert "celery" in COMPOSE["services"]["worker"]["command"] and "worker" in COMPOSE["services"]["worker"]["command"]


def test_everything_the_dockerfile_copies_exists():
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (?!--from)(.+)$", dockerfile, re.M):
        *sources, _dest = line.split()
        for src in sources:
            assert (REPO / src).exists(), f"Dockerfile copies {src}, which is not in the repository"


def test_every_variable_compose_sets_for_the_agent_is_read_by_the_agent_or_its_command():
    agent = COMPOSE["services"]["agent"]
    command = " ".join(agent["command"])
    for var in agent["environment"]:
        used = f'"{var}"' in AGENT_SOURCE + ENGINE_SOURCE or f"$${var}" in command
        assert used, f"compose service 'agent' sets {var}, which neither the agent nor its command reads"
    assert "roofwatch-agent daemon" in command
