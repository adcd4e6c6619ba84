#!/usr/bin/env python3
"""Set up what ``scripts/run`` and ``scripts/test`` need when it is missing.

Both commands call ``ensure()`` first. It picks the Python that runs them:

1. ``LEGAL_BOOTSTRAP=0`` (``.ci/run`` sets it): the running ``python3``, as it is; without an
   importable Odoo the command then fails with its one-line error.
2. A complete project virtual environment (``.venv/``, or ``LEGAL_VENV``): the command re-runs
   itself under ``.venv/bin/python`` (after installing ``requirements-test.txt`` again if it
   changed since).
3. A ``python3`` that already imports Odoo 18: used as it is, no virtual environment.
4. Otherwise the virtual environment is made, once: Odoo 18.0 Community from ``ODOO_SRC`` (a
   local checkout directory, or a ``.tar.gz``/``.tgz``/``.tar.xz``/``.zip`` of one), or else a
   shallow clone of the official 18.0 branch; Odoo's requirements with the known pins; the
   project's ``requirements-test.txt``. Then the command re-runs itself under it.

What only the system can give (PostgreSQL's server, wkhtmltopdf, Chromium, the headers to
build psycopg2 and python-ldap, a C compiler, venv support) is checked before anything is
made: one line names what is missing and the ``apt-get install`` command that brings it.

Run on its own (``python3 scripts/bootstrap.py``) it sets up the same way and prints the
Python that the commands use.
"""

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import stack  # noqa: E402

ODOO_GIT_URL = "https://github.com/odoo/odoo"
ODOO_BRANCH = "18.0"
#: Odoo 18.0 runs on these Pythons (its requirements pin wheels for them).
PYTHONS = ((3, 10), (3, 12))
TEST_REQUIREMENTS = stack.ROOT / "requirements-test.txt"

#: Odoo's pinned cbor2 (5.4.2 below Python 3.12) does not build with current setuptools.
CBOR2_PIN = "cbor2==5.6.2"
#: gevent's own dependencies, which gevent leaves open: the releases that work with Odoo's
#: gevent pins (multi-process mode, ``--workers``). Constraints: applied to every install.
CONSTRAINTS = ["zope.event==5.0", "zope.interface==7.2", "setuptools<81"]
#: Odoo's requirements kept as constraints for the later installs (the test requirements must
#: not move them): gevent and greenlet (greenlet==2.0.2 on Python 3.11).
KEPT_PINS = ("gevent", "greenlet")

MARKER = "legal-bootstrap.json"
LOG = "bootstrap.log"


# --------------------------------------------------------------------------- where, which
def venv_dir(env=None):
    """The project's virtual environment: ``LEGAL_VENV`` or ``<repository>/.venv``."""
    env = os.environ if env is None else env
    return Path(env.get("LEGAL_VENV") or stack.ROOT / ".venv").absolute()


def venv_python(venv):
    return Path(venv) / "bin" / "python"


def release_major(release_py):
    """The major version in an ``odoo/release.py`` (``version_info = (18, 0, ...)``), read
    without importing it; None when there is none."""
    with contextlib.suppress(OSError):
        text = Path(release_py).read_text(errors="replace")
        match = re.search(r"^version_info\s*=\s*\(\s*(\d+)\s*,", text, re.MULTILINE)
        if match:
            return int(match.group(1))
    return None


def running_python_has_odoo18():
    """Whether the running Python finds an ``odoo`` package of version 18 (not imported here:
    ``stack.check_odoo`` does, and says what is wrong when it cannot)."""
    spec = importlib.util.find_spec("odoo")
    if spec is None or not spec.submodule_search_locations:
        return False
    return any(
        release_major(Path(location) / "release.py") == 18
        for location in spec.submodule_search_locations
    )


def read_marker(venv):
    with contextlib.suppress(OSError, ValueError):
        return json.loads((Path(venv) / MARKER).read_text())
    return None


def file_digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def decide(env=None):
    """``"as-is"`` (the running Python), ``"venv"`` (re-run under the complete virtual
    environment) or ``"setup"`` (make it first)."""
    env = os.environ if env is None else env
    if env.get("LEGAL_BOOTSTRAP") == "0":
        return "as-is"
    venv = venv_dir(env)
    if Path(sys.prefix).resolve() == venv.resolve():
        return "as-is"  # already re-run under it
    if read_marker(venv) is not None and venv_python(venv).exists():
        return "venv"
    if running_python_has_odoo18():
        return "as-is"
    return "setup"


# --------------------------------------------------------------------------- the system
def _has_header(name):
    dirs = [sysconfig.get_paths()["include"], "/usr/include", "/usr/local/include"]
    multiarch = sysconfig.get_config_var("MULTIARCH")
    if multiarch:
        dirs.append(f"/usr/include/{multiarch}")
    for var in ("CPATH", "C_INCLUDE_PATH"):
        dirs += [d for d in os.environ.get(var, "").split(os.pathsep) if d]
    return any(os.path.isfile(os.path.join(d, name)) for d in dirs)


def _has_browser():
    names = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    return any(shutil.which(name) for name in names)


def _has_pg_server():
    try:
        stack.find_pg_bindir()
    except stack.StackError:
        return False
    return True


def missing_system_packages(need_browser=True, need_git=False, env=None):
    """``[(what, Debian package)]`` of what only the system can give and is missing."""
    env = os.environ if env is None else env
    checks = [
        (
            not (env.get("PGHOST") or env.get("LEGAL_DB_HOST")) and not _has_pg_server(),
            "PostgreSQL server binaries (initdb, pg_ctl)",
            "postgresql",
        ),
        (not shutil.which("wkhtmltopdf"), "wkhtmltopdf (PDF reports)", "wkhtmltopdf"),
        (need_browser and not _has_browser(), "Chromium (browser tests)", "chromium"),
        (not (shutil.which("cc") or shutil.which("gcc")), "a C compiler", "build-essential"),
        (not _has_header("Python.h"), "Python's headers (Python.h)", "python3-dev"),
        (
            importlib.util.find_spec("ensurepip") is None,
            "venv support (ensurepip)",
            "python3-venv",
        ),
        (not shutil.which("pg_config"), "libpq's headers (pg_config, psycopg2)", "libpq-dev"),
        (not _has_header("ldap.h"), "OpenLDAP's headers (python-ldap)", "libldap2-dev"),
        (not _has_header("sasl/sasl.h"), "SASL's headers (python-ldap)", "libsasl2-dev"),
        (need_git and not shutil.which("git"), "git (to clone Odoo)", "git"),
    ]
    return [(what, package) for missing, what, package in checks if missing]


def check_system(need_browser=True, need_git=False, env=None):
    """Raise StackError naming what is missing and the ``apt-get install`` that brings it."""
    missing = missing_system_packages(need_browser, need_git, env)
    if missing:
        sudo = "" if os.geteuid() == 0 else "sudo "
        packages = " ".join(package for _what, package in missing)
        raise stack.StackError(
            f"missing from this system: {', '.join(what for what, _p in missing)}: install "
            f"{'it' if len(missing) == 1 else 'them'} with `{sudo}apt-get install -y "
            f"{packages}` (Debian/Ubuntu), then run the command again"
        )


def check_python():
    if not PYTHONS[0] <= sys.version_info[:2] <= PYTHONS[1]:
        low, high = (".".join(map(str, v)) for v in PYTHONS)
        raise stack.StackError(
            f"Odoo 18.0 runs on Python {low} to {high}, not {sys.version.split()[0]} "
            f"({sys.executable}): run the command with such a python3 (e.g. `python3.12 "
            f"{os.path.relpath(sys.argv[0])}`)"
        )


# --------------------------------------------------------------------------- Odoo's source
def is_odoo18_source(path):
    path = Path(path)
    return (
        release_major(path / "odoo" / "release.py") == 18
        and (path / "requirements.txt").is_file()
        and ((path / "setup.py").is_file() or (path / "pyproject.toml").is_file())
    )


def _not_a_source(origin):
    return stack.StackError(
        f"ODOO_SRC={origin} is not an Odoo 18.0 source (odoo/release.py of version 18, "
        "requirements.txt, setup.py): point it at a checkout or tarball of the 18.0 branch"
    )


def _is_archive(path):
    return Path(path).is_file() and (tarfile.is_tarfile(path) or zipfile.is_zipfile(path))


def check_source(env=None):
    """Validate ``ODOO_SRC`` before anything is made; None when it is not set."""
    env = os.environ if env is None else env
    origin = env.get("ODOO_SRC")
    if not origin:
        return None
    path = Path(origin).expanduser().absolute()
    if path.is_dir():
        if not is_odoo18_source(path):
            raise _not_a_source(origin)
    elif not _is_archive(path):
        raise stack.StackError(
            f"ODOO_SRC={origin} is neither a directory nor a tar or zip archive: point it at "
            "a checkout or tarball of Odoo's 18.0 branch"
        )
    return path


def extract_source(archive, dest):
    """Unpack ``archive`` into ``dest`` and return the Odoo source directory in it."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, filter="data")
            else:  # Python < 3.11.4: refuse absolute and parent paths ourselves
                for member in tar.getmembers():
                    if member.name.startswith("/") or ".." in Path(member.name).parts:
                        raise stack.StackError(f"unsafe path in {archive}: {member.name}")
                tar.extractall(dest)  # noqa: S202 - members checked above
    else:
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(dest)
    for candidate in [dest, *sorted(p for p in dest.iterdir() if p.is_dir())]:
        if is_odoo18_source(candidate):
            return candidate
    raise _not_a_source(archive)


def clone_source(dest, url=ODOO_GIT_URL, log=None, env=None):
    """``git clone --depth 1 --branch 18.0`` into ``dest``; StackError on failure."""
    proc = subprocess.run(
        ["git", "clone", "--quiet", "--depth", "1", "--branch", ODOO_BRANCH, url, str(dest)],
        capture_output=True,
        text=True,
        env=dict(os.environ if env is None else env, GIT_TERMINAL_PROMPT="0"),
        check=False,
    )
    if log:
        with open(log, "a") as out:
            out.write(f"$ git clone --depth 1 --branch {ODOO_BRANCH} {url} {dest}\n")
            out.write(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
        raise stack.StackError(
            f"cannot clone Odoo {ODOO_BRANCH} from {url} "
            f"({lines[-1].strip() if lines else f'git exit code {proc.returncode}'}): "
            "set ODOO_SRC to a local checkout or tarball of Odoo's 18.0 branch"
        )
    if not is_odoo18_source(dest):
        raise stack.StackError(f"the clone of {url} in {dest} is not an Odoo 18.0 source")
    return Path(dest)


# --------------------------------------------------------------------------- requirements
def _requirement_name(line):
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return match and re.sub(r"[-_.]+", "-", match.group(1)).lower()


def pinned_requirements(text):
    """Odoo's requirements.txt with the known pins: every cbor2 line becomes one
    ``cbor2==5.6.2``; everything else is kept as it is (gevent's and greenlet's pins too)."""
    out, pinned = [], False
    for line in text.splitlines():
        if _requirement_name(line) == "cbor2":
            if not pinned:
                out.append(f"{CBOR2_PIN}  # pinned by scripts/bootstrap.py: 5.4.2 does not build")
                pinned = True
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def constraints(text):
    """Constraints for every install into the environment: gevent's dependencies, and Odoo's
    own gevent and greenlet lines so that no later install moves them."""
    kept = [line for line in text.splitlines() if _requirement_name(line) in KEPT_PINS]
    return (
        "# gevent's dependencies, pinned (Odoo's multi-process mode, --workers)\n"
        + "\n".join(CONSTRAINTS)
        + "\n# Odoo's own gevent and greenlet pins\n"
        + "\n".join(kept)
        + "\n"
    )


def _pip(python, args, log, what, env=None):
    with open(log, "a") as out:
        out.write(f"$ pip install {' '.join(map(str, args))}\n")
        out.flush()
        proc = subprocess.run(
            [str(python), "-m", "pip", "install", "--disable-pip-version-check", *map(str, args)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
        )
    if proc.returncode != 0:
        text = Path(log).read_text(errors="replace").splitlines()
        errors = [line.strip() for line in text if line.strip().startswith("ERROR")]
        first = errors[0] if errors else (text[-1].strip() if text else f"exit {proc.returncode}")
        raise stack.StackError(f"installing {what} failed: {first[:300]} (full log: {log})")


def _say(message):
    print(f"[setup] {message}", flush=True)


def install_test_requirements(venv, test_requirements=TEST_REQUIREMENTS, env=None):
    venv = Path(venv)
    _pip(
        venv_python(venv),
        ["-r", test_requirements, "-c", venv / "legal-constraints.txt"],
        venv / LOG,
        os.path.basename(test_requirements),
        env=env,
    )


def setup_venv(venv, env=None, test_requirements=TEST_REQUIREMENTS, need_browser=True):
    """Make (or complete) the virtual environment ``venv`` with Odoo 18 and the test
    requirements; return ``"reused"`` when it was already complete, else ``"created"``.

    :raise StackError: one line, on anything missing or failing; a source problem removes
        the environment made by this call, an install failure keeps it (the next run goes on).
    """
    env = os.environ if env is None else env
    venv = Path(venv)
    marker = read_marker(venv)
    if marker is not None and venv_python(venv).exists():
        if marker.get("test_requirements") != file_digest(test_requirements):
            _say(f"{os.path.basename(test_requirements)} changed: installing it into {venv}")
            install_test_requirements(venv, test_requirements, env)
            marker["test_requirements"] = file_digest(test_requirements)
            (venv / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        return "reused"
    check_python()
    source = check_source(env)
    check_system(need_browser=need_browser, need_git=source is None, env=env)
    made = not venv.exists()
    log = venv / LOG
    try:
        # The source first (its failure is the likeliest: no network), then the environment.
        if source is None:
            dest = venv / "src" / "odoo"
            if not is_odoo18_source(dest):
                shutil.rmtree(dest, ignore_errors=True)
                _say(f"cloning Odoo {ODOO_BRANCH} from {ODOO_GIT_URL} (no ODOO_SRC given)")
                dest.parent.mkdir(parents=True, exist_ok=True)
                clone_source(dest, log=log, env=env)
            source = dest
        elif source.is_file():
            _say(f"unpacking {source}")
            dest = venv / "src"
            shutil.rmtree(dest, ignore_errors=True)
            source = extract_source(source, dest)
        if not venv_python(venv).exists():
            _say(f"creating the virtual environment {venv}")
            proc = subprocess.run(
                [sys.executable, "-m", "venv", str(venv)],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if proc.returncode != 0:
                last = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
                raise stack.StackError(f"python3 -m venv {venv} failed: {' '.join(last)}")
    except (stack.StackError, KeyboardInterrupt):
        if made:
            shutil.rmtree(venv, ignore_errors=True)
        raise
    text = (source / "requirements.txt").read_text()
    requirements = venv / "legal-odoo-requirements.txt"
    requirements.write_text(pinned_requirements(text))
    pins = venv / "legal-constraints.txt"
    pins.write_text(constraints(text))
    python = venv_python(venv)
    _say(f"installing Odoo's requirements (a few minutes; log: {log})")
    _pip(python, ["-r", requirements, "-c", pins], log, "Odoo's requirements", env)
    _say(f"installing Odoo {ODOO_BRANCH} from {source}")
    _pip(python, ["-e", source, "-c", pins], log, f"Odoo from {source}", env)
    _say(f"installing {os.path.basename(test_requirements)}")
    install_test_requirements(venv, test_requirements, env)
    check = subprocess.run(
        [str(python), "-c", "import odoo.release as r; print(r.version_info[0])"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.stdout.strip() != "18":
        last = check.stderr.strip().splitlines()[-1:] or [check.stdout.strip()]
        raise stack.StackError(f"Odoo is installed in {venv} but does not import: {last[0]}")
    marker = {"odoo_source": str(source), "test_requirements": file_digest(test_requirements)}
    (venv / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    _say(f"done: {venv} has Odoo {ODOO_BRANCH} (remove it to start again)")
    return "created"


def ensure(argv, need_browser=True):
    """Make sure the command runs under a Python with Odoo 18 (see the module's docstring):
    return when the running one is the one, else re-run ``argv`` under the virtual
    environment (``os.execv``: does not return). Exits with one line on failure."""
    choice = decide()
    if choice == "as-is":
        return
    venv = venv_dir()
    try:
        setup_venv(venv, need_browser=need_browser)
    except stack.StackError as exc:
        stack.die(exc)
    except KeyboardInterrupt:
        stack.die("interrupted while setting up the virtual environment")
    python = str(venv_python(venv))
    os.execv(python, [python, os.path.abspath(argv[0]), *argv[1:]])


if __name__ == "__main__":
    ensure(sys.argv)
    print(sys.executable)
