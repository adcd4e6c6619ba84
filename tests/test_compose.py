"""docker-compose.yml, its tests image and odoo.conf describe the stack the README promises."""

import configparser
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
ADDONS = ["legal_trust", "legal_payments", "legal_retainers", "legal_refunds"]


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE.read_text())


def _compose_command():
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_compose_file_validates():
    command = _compose_command()
    # Not a skip: the README promises this file works; .ci/run installs docker-compose.
    assert command, "neither docker-compose nor the docker compose plugin is installed"
    result = subprocess.run(
        [*command, "-f", str(COMPOSE), "--profile", "tests", "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_services_use_the_official_images_with_health_checks(compose):
    services = compose["services"]
    assert services["db"]["image"] == "postgres:16"
    assert services["odoo"]["image"] == services["init"]["image"]
    dockerfile = (ROOT / services["init"]["build"]["dockerfile"]).read_text()
    assert "FROM odoo:18.0" in dockerfile.splitlines()
    assert "--no-deps --target /opt/legal-oca" in dockerfile
    for name in ("db", "odoo"):
        assert services[name]["healthcheck"]["test"], name
    assert "/web/health" in " ".join(services["odoo"]["healthcheck"]["test"])


def test_init_installs_the_four_addons_once_before_odoo_starts(compose):
    services = compose["services"]
    command = " ".join(services["init"]["command"])
    assert f"--init={','.join(ADDONS)}" in command
    assert "--stop-after-init" in command
    assert services["init"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["odoo"]["depends_on"]["init"]["condition"] == ("service_completed_successfully")


def test_addons_and_config_are_mounted(compose):
    for name in ("init", "odoo"):
        volumes = compose["services"][name]["volumes"]
        assert "./addons:/mnt/extra-addons:ro" in volumes
        assert "./odoo.conf:/etc/odoo/odoo.conf:ro" in volumes


def test_tests_service_runs_the_readme_test_command_against_db(compose):
    tests = compose["services"]["tests"]
    assert tests["command"] == ["./scripts/test"]
    assert tests["environment"]["LEGAL_DB_HOST"] == "db"
    dockerfile = (ROOT / tests["build"]["dockerfile"]).read_text()
    assert "FROM odoo:18.0" in dockerfile.splitlines()
    assert "requirements-test.txt" in dockerfile
    assert (ROOT / "requirements-test.txt").is_file()


def test_odoo_conf_serves_the_demo_database_with_demo_data():
    parser = configparser.ConfigParser(inline_comment_prefixes=None)
    parser.read(ROOT / "odoo.conf")
    options = parser["options"]
    assert options["addons_path"] == "/mnt/extra-addons,/opt/legal-oca/odoo/addons"
    assert options["db_name"] == "legal_demo"
    assert options["without_demo"] == "False"
    assert options["list_db"] == "False"


def test_readme_docker_commands_name_the_compose_services(compose):
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"`(docker compose [^`]+)`", readme)
    assert commands, "the README gives no Docker command"
    services = set(compose["services"])
    for command in commands:
        words = command.split()[2:]
        if words[0] == "run":
            service = next(w for w in words[1:] if not w.startswith("-"))
            assert service in services, (command, sorted(services))
        else:
            assert words[0] in {"up", "down", "config", "logs", "ps"}, command
    # Every service the README names in prose exists too.
    for name in re.findall(r"one-shot `(\w+)` service|then `(\w+)` serves", readme):
        for service in filter(None, name):
            assert service in services, service


def test_tests_image_installs_a_browser_that_runs_in_a_container():
    """odoo:18.0 is Ubuntu noble: its `chromium` package is a snap stub, useless in a container."""
    dockerfile = (ROOT / "docker" / "Dockerfile.tests").read_text()
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    commands = "\n".join(lines).replace("\\\n", " ")
    assert not re.search(r"apt-get install[^\n]*\bchromium\b", commands)
    assert "https://dl.google.com/linux/direct/google-chrome-stable_current_amd64.deb" in commands
    assert re.search(r"apt-get install[^\n]*/tmp/chrome\.deb", commands)
    pip = re.search(r"pip3? install[^\n]*-r /tmp/requirements-test\.txt", commands)
    assert pip and "--break-system-packages" in pip.group(0)
    assert "pip install --upgrade pip" not in commands  # Debian's pip keeps Odoo's packages
