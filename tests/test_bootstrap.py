"""The bootstrap of the run and test commands (scripts/bootstrap.py), against a fake Odoo source.

The fake ``ODOO_SRC`` is a minimal package (``odoo/__init__.py``, ``odoo/release.py`` of
version 18), a ``requirements.txt`` with Odoo's two cbor2 lines, and a ``pyproject.toml``
whose build backend is in the source itself, so that ``pip install -e`` works without an
index. The only requirement, ``cbor2==5.6.2``, comes from a local wheel folder holding that
version alone: pip finds it only if the bootstrap rewrote Odoo's cbor2 pin. Nothing here
reaches the network (``PIP_NO_INDEX``, a dead proxy for git).
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tarfile
import time
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import bootstrap  # noqa: E402
import stack  # noqa: E402

ODOO_CBOR2_LINES = (
    "cbor2==5.4.2 ; python_version < '3.12'\ncbor2==5.6.2 ; python_version >= '3.12'\n"
)

FAKE_BACKEND = '''"""PEP 660 build backend of the fake Odoo source: editable wheel with a .pth."""
import base64, hashlib, os, zipfile

NAME, VERSION = "odoo", "18.0"
DIST = f"{NAME}-{VERSION}.dist-info"


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _metadata():
    return f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n"


def get_requires_for_build_editable(config_settings=None):
    return []


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    path = os.path.join(metadata_directory, DIST)
    os.makedirs(path)
    with open(os.path.join(path, "METADATA"), "w") as out:
        out.write(_metadata())
    return DIST


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    here = os.path.dirname(os.path.abspath(__file__))
    files = {
        "fake_odoo.pth": (here + "\\n").encode(),
        f"{DIST}/METADATA": _metadata().encode(),
        f"{DIST}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: fake\\nRoot-Is-Purelib: true\\n"
        b"Tag: py3-none-any\\n",
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{DIST}/RECORD,,"]
    files[f"{DIST}/RECORD"] = ("\\n".join(record) + "\\n").encode()
    wheel = f"{NAME}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w") as zipped:
        for name, data in files.items():
            zipped.writestr(name, data)
    return wheel
'''


def _write_wheel(folder, name, version, files):
    """A pure-Python wheel written by hand (no build tool, no network)."""
    dist = f"{name}-{version}.dist-info"
    files = {
        **{key: value.encode() for key, value in files.items()},
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    record = []
    for key, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{key},sha256={digest},{len(data)}")
    files[f"{dist}/RECORD"] = ("\n".join([*record, f"{dist}/RECORD,,"]) + "\n").encode()
    path = Path(folder) / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zipped:
        for key, data in files.items():
            zipped.writestr(key, data)
    return path


def make_fake_odoo_source(path, major=18):
    path = Path(path)
    (path / "odoo").mkdir(parents=True)
    (path / "odoo" / "__init__.py").write_text("from . import release\n")
    (path / "odoo" / "release.py").write_text(
        f"version_info = ({major}, 0, 0, 'final', 0, '')\n"
        "version = '.'.join(str(s) for s in version_info[:2])\n"
    )
    (path / "requirements.txt").write_text("# Odoo's pins, in short\n" + ODOO_CBOR2_LINES)
    (path / "setup.py").write_text("raise SystemExit('the fake source builds with its backend')\n")
    (path / "_fake_backend.py").write_text(FAKE_BACKEND)
    (path / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "_fake_backend"\nbackend-path = ["."]\n'
    )
    return path


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """Environment variables for an offline bootstrap: pip sees only a folder holding
    cbor2 5.6.2 (not 5.4.2), git only a dead proxy; no CI switch, no external server."""
    wheels = tmp_path_factory.mktemp("wheels")
    _write_wheel(wheels, "cbor2", "5.6.2", {"cbor2/__init__.py": "__version__ = '5.6.2'\n"})
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LEGAL_BOOTSTRAP", "ODOO_SRC", "LEGAL_VENV", "PIP_EXTRA_INDEX_URL")
    }
    env.update(
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheels),
        PIP_CONFIG_FILE=os.devnull,
        https_proxy="http://127.0.0.1:9",
        HTTPS_PROXY="http://127.0.0.1:9",
    )
    return env


@pytest.fixture(scope="module")
def test_requirements(tmp_path_factory):
    path = tmp_path_factory.mktemp("req") / "requirements-test.txt"
    path.write_text("# the project's test requirements (none here: offline)\n")
    return path


@pytest.fixture(scope="module")
def fake_venv(tmp_path_factory, offline, test_requirements):
    """A virtual environment set up by the bootstrap from a fake ODOO_SRC directory."""
    base = tmp_path_factory.mktemp("boot")
    source = make_fake_odoo_source(base / "odoo-src")
    target = base / "venv"
    env = dict(offline, ODOO_SRC=str(source))
    outcome = bootstrap.setup_venv(target, env, test_requirements=test_requirements)
    return {"venv": target, "source": source, "outcome": outcome, "env": env}


def _in_venv(venv_dir, code):
    return subprocess.run(
        [str(venv_dir / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


# --------------------------------------------------------------------------- requirements
def test_the_requirements_copy_pins_cbor2_once_and_keeps_odoos_other_pins():
    odoo = (
        ODOO_CBOR2_LINES + "greenlet==2.0.2 ; sys_platform != 'win32' and python_version > '3.10' "
        "and python_version < '3.12'\n"
        "gevent==22.10.2; sys_platform != 'win32' and python_version > '3.10' "
        "and python_version < '3.12'\npsycopg2==2.9.5 ; python_version == '3.11'\n"
    )
    copy = bootstrap.pinned_requirements(odoo).splitlines()
    assert [line.split()[0] for line in copy if line.startswith("cbor2")] == ["cbor2==5.6.2"]
    assert "psycopg2==2.9.5 ; python_version == '3.11'" in copy
    assert any(line.startswith("greenlet==2.0.2 ;") for line in copy)
    constraints = bootstrap.constraints(odoo).splitlines()
    for pin in ("zope.event==5.0", "zope.interface==7.2", "setuptools<81"):
        assert pin in constraints
    assert any(line.startswith("greenlet==2.0.2 ;") for line in constraints)
    assert any(line.startswith("gevent==22.10.2;") for line in constraints)
    assert not any(line.startswith(("psycopg2", "cbor2")) for line in constraints)


# --------------------------------------------------------------------------- a local source
def test_bootstrap_makes_a_venv_where_the_fake_odoo_imports_with_the_pinned_cbor2(fake_venv):
    target, source = fake_venv["venv"], fake_venv["source"]
    assert fake_venv["outcome"] == "created"
    assert (target / "bin" / "python").is_file()
    assert _in_venv(target, "import odoo.release as r; print(r.version_info[0], r.__file__)") == (
        f"18 {source / 'odoo' / 'release.py'}"
    )
    # Odoo's cbor2 pin was rewritten in the copy pip used: 5.4.2 is nowhere to be found here.
    assert _in_venv(target, "import importlib.metadata as m; print(m.version('cbor2'))") == "5.6.2"
    copy = (target / "legal-odoo-requirements.txt").read_text()
    assert "cbor2==5.4.2" not in copy
    assert copy.count("cbor2==") == 1
    assert "zope.interface==7.2" in (target / "legal-constraints.txt").read_text()
    # Isolated from the running Python's packages (which has pytest-odoo): its own only.
    assert _in_venv(target, "import importlib.util as u; print(u.find_spec('pytest_odoo'))") == (
        "None"
    )


def test_a_second_bootstrap_reuses_the_venv_without_installing(fake_venv, test_requirements):
    target = fake_venv["venv"]
    log = (target / "bootstrap.log").read_text()
    started = time.monotonic()
    assert bootstrap.setup_venv(target, fake_venv["env"], test_requirements) == "reused"
    assert time.monotonic() - started < 1
    assert (target / "bootstrap.log").read_text() == log  # pip did not run


def test_a_command_under_a_python_without_odoo_reruns_itself_in_the_venv(
    fake_venv, python_without_odoo
):
    """What scripts/run and scripts/test do first (bootstrap.ensure): a complete venv is used
    by re-running the command under its python."""
    env = dict(fake_venv["env"], LEGAL_VENV=str(fake_venv["venv"]))
    marker = fake_venv["venv"] / bootstrap.MARKER
    saved = marker.read_text()
    # As if set up with the project's requirements-test.txt (offline here: not installable).
    up_to_date = json.loads(saved)
    up_to_date["test_requirements"] = bootstrap.file_digest(bootstrap.TEST_REQUIREMENTS)
    marker.write_text(json.dumps(up_to_date))
    try:
        result = subprocess.run(
            [python_without_odoo, str(ROOT / "scripts" / "bootstrap.py")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    finally:
        marker.write_text(saved)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(fake_venv["venv"] / "bin" / "python")
    assert result.stderr == ""


def test_a_python_that_imports_odoo_18_is_used_as_it_is(tmp_path):
    env = dict(os.environ, LEGAL_VENV=str(tmp_path / "venv"))
    env.pop("LEGAL_BOOTSTRAP", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bootstrap.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == sys.executable
    assert not (tmp_path / "venv").exists()


def test_an_odoo_src_tarball_is_unpacked_to_its_source_directory(tmp_path):
    source = make_fake_odoo_source(tmp_path / "odoo-18.0")
    tarball = tmp_path / "odoo-18.0.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(source, arcname="odoo-18.0")
    assert bootstrap.check_source({"ODOO_SRC": str(tarball)}) == tarball
    unpacked = bootstrap.extract_source(tarball, tmp_path / "venv" / "src")
    assert unpacked == tmp_path / "venv" / "src" / "odoo-18.0"
    assert bootstrap.is_odoo18_source(unpacked)
    assert (unpacked / "odoo" / "release.py").read_text() == (
        source / "odoo" / "release.py"
    ).read_text()


# --------------------------------------------------------------------------- clear errors
@pytest.fixture(scope="module")
def python_without_odoo(tmp_path_factory):
    """A virtualenv's python that cannot import odoo (no system site-packages)."""
    env_dir = tmp_path_factory.mktemp("no-odoo-venv")
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    return str(env_dir / "bin" / "python")


@pytest.mark.parametrize("command", ["scripts/test", "scripts/run"])
def test_no_odoo_src_and_no_network_is_one_line_and_leaves_nothing(
    command, offline, python_without_odoo, tmp_path
):
    missing = bootstrap.missing_system_packages(need_browser=True, need_git=True, env=offline)
    if missing:
        pytest.skip(f"this system lacks {missing}: the bootstrap stops before cloning")
    target = tmp_path / "venv"
    env = dict(offline, LEGAL_VENV=str(target))
    result = subprocess.run(
        [python_without_odoo, str(ROOT / command)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        "error: cannot clone Odoo 18.0 from https://github.com/odoo/odoo ("
    ), lines
    assert lines[0].endswith(
        "set ODOO_SRC to a local checkout or tarball of Odoo's 18.0 branch"
    ), lines
    assert not target.exists()  # the half-made venv is removed


def test_an_odoo_src_that_is_not_odoo_18_is_one_line_and_makes_nothing(tmp_path, offline):
    source = make_fake_odoo_source(tmp_path / "odoo-17", major=17)
    target = tmp_path / "venv"
    with pytest.raises(stack.StackError) as error:
        bootstrap.setup_venv(target, dict(offline, ODOO_SRC=str(source)))
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"ODOO_SRC={source} is not an Odoo 18.0 source")
    assert not target.exists()


def test_missing_system_packages_are_one_line_with_the_apt_get_command(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_config, initdb, wkhtmltopdf, chromium, cc
    monkeypatch.setattr(stack.glob, "glob", lambda pattern: [])  # no Debian PostgreSQL layout
    monkeypatch.setattr(bootstrap, "_has_header", lambda name: name == "Python.h")
    env = {"PATH": str(tmp_path)}  # and no PGHOST
    with pytest.raises(stack.StackError) as error:
        bootstrap.check_system(need_browser=True, need_git=True, env=env)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(
        "missing from this system: PostgreSQL server binaries (initdb, pg_ctl), wkhtmltopdf"
    )
    sudo = "" if os.geteuid() == 0 else "sudo "
    assert (
        f"`{sudo}apt-get install -y postgresql wkhtmltopdf chromium build-essential libpq-dev "
        "libldap2-dev libsasl2-dev git`"
    ) in message
    # What the run command does not need is not asked for; PGHOST replaces the server.
    assert [
        p
        for _w, p in bootstrap.missing_system_packages(need_browser=False, env={"PGHOST": "/sock"})
    ] == ["wkhtmltopdf", "build-essential", "libpq-dev", "libldap2-dev", "libsasl2-dev"]


def test_ci_turns_the_bootstrap_off(python_without_odoo, tmp_path):
    """LEGAL_BOOTSTRAP=0 (.ci/run): the command fails on the missing Odoo, installs nothing."""
    target = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("PGHOST", "LEGAL_DB_HOST")}
    env.update(LEGAL_BOOTSTRAP="0", LEGAL_VENV=str(target), ODOO_SRC=str(tmp_path))
    result = subprocess.run(
        [python_without_odoo, str(ROOT / "scripts" / "test")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: Odoo 18 is not importable")
    assert not target.exists()
