"""The test and run commands' building blocks (scripts/stack.py) and their bad-input errors."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import stack  # noqa: E402


def _legal_tmp_dirs(prefixes=("legal-run-", "legal-test-")):
    base = Path(tempfile.gettempdir())
    return {p.name for prefix in prefixes for p in base.glob(prefix + "*")}


# --------------------------------------------------------------------------- free_port
def test_free_port_returns_a_bindable_port():
    port = stack.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # free: bindable right away


def test_free_port_accepts_a_free_wanted_port():
    port = stack.free_port()
    assert stack.free_port(port) == port


def test_free_port_on_an_occupied_port_is_one_clear_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(stack.StackError) as error:
            stack.free_port(port)
    message = str(error.value)
    assert "\n" not in message
    assert f"port {port} on 127.0.0.1 is already in use" in message
    assert "--port" in message


# --------------------------------------------------------------------------- find_pg_bindir
def test_find_pg_bindir_finds_initdb_and_pg_ctl():
    try:
        bindir = stack.find_pg_bindir()
    except stack.StackError:
        if os.environ.get("LEGAL_DB_HOST"):  # e.g. the compose `tests` service: client only
            pytest.skip("no PostgreSQL server binaries here; an external server is configured")
        raise
    for binary in ("initdb", "pg_ctl"):
        assert os.access(os.path.join(bindir, binary), os.X_OK)


def test_find_pg_bindir_without_postgresql_is_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_config, no initdb
    monkeypatch.setattr(stack.glob, "glob", lambda pattern: [])  # no Debian layout either
    with pytest.raises(stack.StackError) as error:
        stack.find_pg_bindir()
    message = str(error.value)
    assert "\n" not in message
    assert "PostgreSQL server binaries (initdb, pg_ctl) not found" in message
    assert "apt-get install postgresql" in message


def test_find_pg_bindir_uses_the_debian_layout_when_nothing_is_on_path(monkeypatch, tmp_path):
    for version in ("13", "16"):
        bindir = tmp_path / "postgresql" / version / "bin"
        bindir.mkdir(parents=True)
        for binary in ("initdb", "pg_ctl"):
            (bindir / binary).write_text("#!/bin/sh\n")
            (bindir / binary).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    real_glob = stack.glob.glob
    monkeypatch.setattr(
        stack.glob,
        "glob",
        lambda pattern: real_glob(str(tmp_path / "postgresql" / "*" / "bin")),
    )
    assert stack.find_pg_bindir() == str(tmp_path / "postgresql" / "16" / "bin")


# --------------------------------------------------------------------------- missing Odoo
@pytest.fixture(scope="module")
def python_without_odoo(tmp_path_factory):
    """A virtualenv's python that cannot import odoo (no system site-packages)."""
    env_dir = tmp_path_factory.mktemp("no-odoo-venv")
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    python = env_dir / "bin" / "python"
    check = subprocess.run([python, "-c", "import odoo"], capture_output=True, check=False)
    assert check.returncode != 0
    return python


@pytest.mark.parametrize("command", ["scripts/test", "scripts/run"])
def test_command_without_odoo_says_how_to_install_it(python_without_odoo, command):
    before = _legal_tmp_dirs()
    env = {k: v for k, v in os.environ.items() if k not in ("PGHOST", "LEGAL_DB_HOST")}
    env["LEGAL_BOOTSTRAP"] = "0"  # as CI: no virtual environment set up (test_bootstrap.py)
    result = subprocess.run(
        [python_without_odoo, str(ROOT / command)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: Odoo 18 is not importable")
    assert "pip install -e" in lines[0]
    assert _legal_tmp_dirs() <= before  # nothing created


def test_check_odoo_returns_odoos_package_directory():
    assert (stack.check_odoo() / "release.py").is_file()


# --------------------------------------------------------------------------- occupied port
def test_run_on_an_occupied_port_is_one_clear_line_and_leaves_nothing():
    before = _legal_tmp_dirs()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "run"), "--port", str(port)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: port {port} on 127.0.0.1 is already in use (Address already in use): "
        "stop what listens there or choose another port with --port"
    ]
    assert _legal_tmp_dirs() <= before


# --------------------------------------------------------------------------- failed install
def test_failed_install_is_one_line_naming_the_first_error(tmp_path, monkeypatch):
    """Odoo cannot reach the database: the install fails with its first ERROR line."""
    monkeypatch.setenv("LEGAL_DB_HOST", str(tmp_path / "no-server-here"))
    monkeypatch.delenv("LEGAL_DB_PASSWORD", raising=False)
    monkeypatch.delenv("PGPASSWORD", raising=False)
    cluster = stack.Cluster()
    config = stack.write_config(
        tmp_path / "odoo.conf",
        cluster,
        stack.check_odoo(),
        "legal_never",
        http_port=stack.free_port(),
        data_dir=str(tmp_path / "filestore"),
    )
    log = tmp_path / "install.log"
    with pytest.raises(stack.StackError) as error:
        stack.install_addons(str(config), "legal_never", str(log), log_hint="see the log")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(
        "installing legal_trust, legal_payments, legal_retainers, legal_refunds failed: "
    )
    assert "OperationalError" in message  # the uncaught exception, not just "exit code 1"
    assert message.endswith("(see the log)")
    assert log.is_file()


def test_write_config_points_odoo_at_our_addons_and_the_cluster(tmp_path, monkeypatch):
    for name, value in {
        "LEGAL_DB_HOST": "/sock",
        "LEGAL_DB_PORT": "5433",
        "LEGAL_DB_USER": "me",
        "LEGAL_DB_PASSWORD": "pw",
    }.items():
        monkeypatch.setenv(name, value)
    cluster = stack.Cluster()
    assert cluster.external
    path = stack.write_config(
        tmp_path / "odoo.conf",
        cluster,
        stack.check_odoo(),
        "legal_db",
        http_port=8123,
        data_dir=None,
    )
    text = Path(path).read_text()
    options = dict(line.split(" = ", 1) for line in text.splitlines()[1:])
    assert text.startswith("[options]\n")
    paths = options["addons_path"].split(",")
    assert paths[-1] == str(ROOT / "addons")
    # the pinned OCA addons sit in their own directory between Odoo's and ours
    assert Path(paths[-2], "report_xlsx", "__manifest__.py").is_file()
    assert Path(paths[-2], "account_reconcile_oca", "__manifest__.py").is_file()
    assert not Path(paths[-2]).is_relative_to(stack.check_odoo().parent)
    assert options["db_host"] == "/sock"
    assert options["db_port"] == "5433"
    assert options["db_password"] == "pw"
    assert options["dbfilter"] == "^legal_db$"
    assert options["http_port"] == "8123"
    assert options["http_interface"] == "127.0.0.1"
    assert "data_dir" not in options  # None: Odoo's default


# --------------------------------------------------------------------------- the test database
def test_database_state_sees_the_installed_test_database():
    """scripts/test exports PG* for its server: the addons are installed in LEGAL_TEST_DB."""
    db_name = os.environ.get("LEGAL_TEST_DB")
    if not db_name:
        pytest.skip("run through ./scripts/test")
    cluster = stack.Cluster()
    cluster.host = os.environ["PGHOST"]
    assert stack.database_state(cluster, db_name) == "ready"
    assert stack.database_state(cluster, db_name, modules=["no_such_addon"]) == "incomplete"
    assert stack.database_state(cluster, "legal_no_such_db") == "missing"


# --------------------------------------------------------------------------- the run command
def test_run_serves_the_database_and_stops_cleanly_on_sigint():
    """scripts/run on the test server re-uses the installed test database (no second install),
    serves /web/login, and on SIGINT stops Odoo and leaves no temporary directory."""
    db_name = os.environ.get("LEGAL_TEST_DB")
    if not db_name:
        pytest.skip("run through ./scripts/test")
    before = _legal_tmp_dirs()
    port = stack.free_port()
    env = dict(os.environ, LEGAL_DB_HOST=os.environ["PGHOST"])
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "run"), "--port", str(port), "--db", db_name],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("[run] Odoo is serving"):
                break
        assert any(f"re-using database {db_name}" in line for line in lines), "".join(lines)
        assert lines[-1].startswith(f"[run] Odoo is serving http://localhost:{port}"), lines
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/login", timeout=30) as page:
            assert page.status == 200
            assert b"oe_login_form" in page.read()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    assert stack.free_port(port) == port  # Odoo is gone: nothing listens on its port
    # Only the run command's own directories: other test runs may share /tmp.
    assert _legal_tmp_dirs(("legal-run-",)) <= before
    cluster = stack.Cluster()
    assert stack.database_state(cluster, db_name) == "ready"  # a configured server's db is kept


# --------------------------------------------------------------------------- the data directory
@pytest.fixture
def data_dir(monkeypatch):
    """An empty data directory for scripts/run's persistent cluster, reachable by the postgres
    system user (the cluster runs as postgres when the tests run as root); no PGHOST."""
    for name in ("PGHOST", "LEGAL_DB_HOST"):
        monkeypatch.delenv(name, raising=False)
    path = Path(tempfile.mkdtemp(prefix="legal-data-"))
    path.chmod(0o755)
    yield path
    bindir = stack.find_pg_bindir()
    if (path / "pgdata" / "postmaster.pid").exists():  # a failed test left it running
        cluster = stack.Cluster(persistent=True)
        cluster.bindir, cluster.data, cluster.started = bindir, str(path / "pgdata"), True
        cluster.run_as = "postgres" if os.geteuid() == 0 else None
        cluster.stop()
    shutil.rmtree(path, ignore_errors=True)


def _psql(cluster, dbname, sql):
    with contextlib.closing(stack._connect(cluster, dbname)) as conn:
        conn.autocommit = True
        with conn.cursor() as cr:
            cr.execute(sql)
            return cr.fetchall() if cr.description else None


def test_the_persistent_cluster_keeps_its_data_across_a_clean_stop_and_a_start(data_dir):
    cluster = stack.Cluster(persistent=True).start(data_dir)
    try:
        assert cluster.host == str(data_dir / "pgsock")
        assert (data_dir / "pgdata" / "PG_VERSION").is_file()
        assert stack.database_state(cluster, "legal_kept") == "missing"
        _psql(cluster, "postgres", "CREATE DATABASE legal_kept")
        _psql(
            cluster,
            "legal_kept",
            "CREATE TABLE marker (note text); INSERT INTO marker VALUES ('kept')",
        )
    finally:
        cluster.stop()
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()  # stopped
    made = (data_dir / "pgdata" / "PG_VERSION").stat().st_mtime_ns
    again = stack.Cluster(persistent=True).start(data_dir)
    try:
        assert _psql(again, "legal_kept", "SELECT note FROM marker") == [("kept",)]
        assert stack.database_state(again, "legal_kept") == "incomplete"  # there, no addons
    finally:
        again.stop()
    assert (data_dir / "pgdata" / "PG_VERSION").stat().st_mtime_ns == made  # not made again
    log = (data_dir / "postgresql.log").read_text()
    assert "database system was shut down at" in log  # a clean shutdown before the restart
    assert "was interrupted" not in log and "redo starts" not in log  # no crash recovery


def test_a_second_start_on_a_running_data_directory_is_one_clear_line(data_dir):
    cluster = stack.Cluster(persistent=True).start(data_dir)
    try:
        with pytest.raises(stack.StackError) as error:
            stack.Cluster(persistent=True).start(data_dir)
        message = str(error.value)
        assert "\n" not in message
        assert message.startswith(
            f"a PostgreSQL server is already running on {data_dir / 'pgdata'} (another "
            "./scripts/run on this data directory?)"
        )
        assert _psql(cluster, "postgres", "SELECT 1") == [(1,)]  # the first one is untouched
    finally:
        cluster.stop()


def test_write_config_loads_demo_data_only_when_asked(tmp_path):
    cluster, odoo_dir = stack.Cluster(), stack.check_odoo()
    for demo, expected in ((True, "False"), (False, "all")):
        path = stack.write_config(
            tmp_path / "odoo.conf",
            cluster,
            odoo_dir,
            "legal",
            http_port=8123,
            data_dir=str(tmp_path / "odoo"),
            demo=demo,
        )
        options = dict(line.split(" = ", 1) for line in Path(path).read_text().splitlines()[1:])
        assert options["without_demo"] == expected
        assert options["data_dir"] == str(tmp_path / "odoo")


def test_run_help_documents_the_data_directory_fresh_and_demo():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run"), "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    text = " ".join(result.stdout.split())
    assert "--data-dir DIR where the cluster and Odoo's files are kept (default ./var/" in text
    assert "--demo load the addons' demo data when the database is created" in text
    assert "--fresh a throwaway demo instead" in text
    assert "removed on exit" in text
    assert "--db DB database name (default legal)" in text


def test_run_refuses_fresh_with_a_data_directory():
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run"), "--fresh", "--data-dir", "/tmp/x"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "scripts/run: error: --fresh keeps nothing: leave out --data-dir (or --fresh)"
    )
