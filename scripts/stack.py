"""PostgreSQL cluster and Odoo configuration for the test and run commands.

Used by ``scripts/test`` and ``scripts/run``. Nothing here installs Odoo: it must be
importable by the Python that runs these scripts (``scripts/bootstrap.py`` sees to that).

When ``PGHOST`` (or ``LEGAL_DB_HOST``) is set, that server is used as it is and nothing is
started. Otherwise a private cluster listens only on a unix socket inside its directory:
a throwaway one in a temporary directory, removed on exit, or a persistent one in a data
directory (``Cluster(persistent=True)``, ``scripts/run``'s default), made on first use,
started and stopped cleanly, kept:

    <data dir>/pgdata/           the cluster (PGDATA)
    <data dir>/pgsock/           its unix socket while it runs
    <data dir>/postgresql.log    its log
    <data dir>/odoo/             Odoo's data directory: filestore/<database>/, sessions/
"""

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT_ADDONS = ROOT / "addons"
ADDONS = ["legal_trust", "legal_payments", "legal_retainers", "legal_refunds"]
# Installed beside the addons for the tests only: Odoo's demo payment provider, which the
# browser tours pay with (a client paying by "card" without Stripe).
TEST_EXTRA_ADDONS = ["payment_demo", "account_reconcile_oca", "account_financial_report"]
# The pinned OCA addons (requirements-oca.txt), installed by ensure_oca_addons() into OCA_DIR;
# LEGAL_OCA_ADDONS names an existing directory of them instead (the compose images).
OCA_REQUIREMENTS = ROOT / "requirements-oca.txt"
OCA_DIR = ROOT / ".oca"


class StackError(Exception):
    """A problem the user can fix; its message is one line saying what and how."""


def die(message):
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def check_odoo():
    """Return Odoo's package directory, or raise StackError with the install hint."""
    code = (
        "import odoo, os, sys; "
        "sys.exit(3) if odoo.release.version_info[0] != 18 else "
        "print(os.path.dirname(odoo.__file__))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode == 3:
        raise StackError("the importable Odoo is not 18.0: install Odoo 18.0 (see README)")
    if proc.returncode != 0:
        raise StackError(
            f"Odoo 18 is not importable by {sys.executable}: install Odoo 18.0 Community "
            "from source (pip install -r requirements.txt, then pip install -e <odoo source>) "
            "so that `python3 -c 'import odoo'` works; see README, section Development"
        )
    return Path(proc.stdout.strip())


def ensure_oca_addons():
    """Return the directory holding the pinned OCA addons, installing them first if needed.

    They are installed with ``pip install --no-deps --target`` into ``.oca/`` (never beside
    Odoo: an OCA wheel installed there creates ``site-packages/odoo`` and hides Odoo), again
    whenever ``requirements-oca.txt`` changes. ``LEGAL_OCA_ADDONS`` names a directory where
    they are already installed (the compose images) and is used as it is.
    """
    given = os.environ.get("LEGAL_OCA_ADDONS")
    if given:
        if not Path(given, "report_xlsx").is_dir():
            raise StackError(f"LEGAL_OCA_ADDONS={given} holds no OCA addons (report_xlsx)")
        return Path(given)
    addons = OCA_DIR / "odoo" / "addons"
    marker = OCA_DIR / "requirements-oca.txt"
    wanted = OCA_REQUIREMENTS.read_text()
    if addons.is_dir() and marker.is_file() and marker.read_text() == wanted:
        return addons
    print(f"[stack] installing the OCA addons of requirements-oca.txt into {OCA_DIR}", flush=True)
    shutil.rmtree(OCA_DIR, ignore_errors=True)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--target",
            str(OCA_DIR),
            "-r",
            str(OCA_REQUIREMENTS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        shutil.rmtree(OCA_DIR, ignore_errors=True)
        raise StackError(
            "could not install the OCA addons of requirements-oca.txt with pip: "
            + (proc.stderr.strip().splitlines() or ["no output"])[-1]
        )
    marker.write_text(wanted)
    return addons


def addons_path(odoo_dir):
    """Odoo's own addons first, then the pinned OCA addons, then ours.

    ``ODOO_ADDONS_PATH`` overrides Odoo's part.
    """
    extra = os.environ.get("ODOO_ADDONS_PATH")
    paths = extra.split(",") if extra else [str(odoo_dir / "addons")]
    sibling = odoo_dir.parent / "addons"
    if not extra and sibling.is_dir():
        paths.append(str(sibling))
    return ",".join([*paths, str(ensure_oca_addons()), str(PROJECT_ADDONS)])


def free_port(wanted=None):
    """Return ``wanted`` if it is free on 127.0.0.1 (StackError if not), else any free port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", wanted or 0))
        except OSError as exc:
            raise StackError(
                f"port {wanted} on 127.0.0.1 is already in use ({exc.strerror}): stop what "
                "listens there or choose another port with --port"
            ) from exc
        return sock.getsockname()[1]


def find_pg_bindir():
    """Directory holding ``initdb`` and ``pg_ctl``: pg_config, PATH, then Debian's layout."""
    candidates = []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
        candidates.append(out.stdout.strip())
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(os.path.dirname(initdb))
    candidates += sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit() else 0,
        reverse=True,
    )
    for bindir in candidates:
        if all(os.access(os.path.join(bindir, b), os.X_OK) for b in ("initdb", "pg_ctl")):
            return bindir
    raise StackError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found via pg_config, PATH or "
        "/usr/lib/postgresql/*/bin: install them (Debian: apt-get install postgresql) "
        "or point PGHOST at a running server"
    )


#: What ``scripts/test`` exports for the tests that restart the cluster (fault tests): see
#: ``Cluster.export_env`` and ``Cluster.from_env``.
ENV_PG_BINDIR = "LEGAL_TEST_PG_BINDIR"
ENV_PGDATA = "LEGAL_TEST_PGDATA"
ENV_PG_RUN_AS = "LEGAL_TEST_PG_RUN_AS"
ENV_PG_EXTERNAL = "LEGAL_TEST_PG_EXTERNAL"  # the tests run on PGHOST's server: not ours


class Cluster:
    """A private PostgreSQL cluster on a unix socket, or the configured server."""

    def __init__(self, keep=False, persistent=False):
        self.keep = keep
        self.persistent = persistent
        self.tmpdir = None
        self.bindir = None
        self.run_as = None
        self.started = False
        self.data = None
        self.borrowed = False
        self.external = bool(os.environ.get("LEGAL_DB_HOST") or os.environ.get("PGHOST"))
        self.host = os.environ.get("LEGAL_DB_HOST") or os.environ.get("PGHOST")
        self.port = os.environ.get("LEGAL_DB_PORT") or os.environ.get("PGPORT") or "5432"
        self.user = os.environ.get("LEGAL_DB_USER") or os.environ.get("PGUSER") or "odoo"
        self.password = os.environ.get("LEGAL_DB_PASSWORD") or os.environ.get("PGPASSWORD")

    # ------------------------------------------------------------------ helpers
    def _cmd(self, args):
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return args

    def _run(self, args, **kwargs):
        return subprocess.run(self._cmd(args), capture_output=True, text=True, **kwargs)

    # ------------------------------------------------------------------ lifecycle
    def start(self, workdir):
        """Start the private cluster in ``workdir`` (nothing on an external server).

        Throwaway: ``workdir`` is a new temporary directory, the cluster is made there with
        durability off (fast). Persistent: ``workdir`` is the data directory, the cluster is
        made there once (durable settings) and started again on later calls.

        :raise StackError: one line (no server binaries, initdb or start failed, a server
            already running on that data directory, a data directory out of reach)
        """
        if self.external:
            return self
        self.bindir = find_pg_bindir()
        if self.persistent:
            return self._start_persistent(workdir)
        self.tmpdir = workdir
        data = os.path.join(workdir, "pgdata")
        sockdir = os.path.join(workdir, "pgsock")
        os.makedirs(sockdir)
        if os.geteuid() == 0:
            # initdb refuses to run as root: use the postgres system account.
            pw = self._postgres_account("throwaway cluster")
            for path in (workdir, sockdir):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            os.chmod(workdir, 0o755)
        proc = self._initdb(data, "--no-sync")
        if proc.returncode != 0:
            raise StackError(f"initdb failed: {proc.stderr.strip().splitlines()[-1:]}")
        options = (
            f"-k {sockdir} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200 -c shared_buffers=256MB"
        )
        log = os.path.join(workdir, "postgresql.log")
        if self._pg_start(data, options, log, timeout=60).returncode != 0:
            raise StackError(f"the throwaway PostgreSQL cluster did not start: see {log}")
        return self._started(data, sockdir)

    def _postgres_account(self, what):
        """The ``postgres`` system account, which runs the cluster when we are root.

        :raise StackError: when there is none
        """
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise StackError(
                f"running as root and no 'postgres' system user exists to own the {what}: "
                "create one (useradd postgres) or run as a normal user"
            ) from exc
        self.run_as = "postgres"
        return pw

    def _initdb(self, data, *extra):
        """Create a cluster in ``data`` (trust authentication on its private socket)."""
        return self._run(
            [
                os.path.join(self.bindir, "initdb"),
                "-D",
                data,
                "-U",
                self.user,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                *extra,
            ],
            check=False,
        )

    def _pg_start(self, data, options, log, timeout):
        """``pg_ctl start`` of the cluster in ``data``, waiting up to ``timeout`` seconds."""
        return self._run(
            [
                os.path.join(self.bindir, "pg_ctl"),
                "-D",
                data,
                "-o",
                options,
                "-l",
                log,
                "-w",
                "-t",
                str(timeout),
                "start",
            ],
            check=False,
        )

    def _started(self, data, sockdir):
        self.started = True
        self.host = sockdir
        self.data = data
        return self

    def _start_persistent(self, workdir):
        workdir = os.path.abspath(workdir)
        data = os.path.join(workdir, "pgdata")
        sockdir = os.path.join(workdir, "pgsock")
        log = os.path.join(workdir, "postgresql.log")
        # A unix socket path is limited to 107 bytes: <sockdir>/.s.PGSQL.5432 must fit.
        if len(os.fsencode(os.path.join(sockdir, ".s.PGSQL.5432"))) > 107:
            raise StackError(
                f"the data directory {workdir} has too long a path for PostgreSQL's unix "
                "socket (at most about 90 characters): choose a shorter --data-dir"
            )
        os.makedirs(workdir, exist_ok=True)
        fresh = not os.path.isfile(os.path.join(data, "PG_VERSION"))
        for path in (data, sockdir):
            os.makedirs(path, mode=0o700, exist_ok=True)
        Path(log).touch()
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root: the postgres system account owns the
            # cluster's own directories (only those, not the data directory).
            pw = self._postgres_account("cluster")
            for path in (data, sockdir, log):
                os.chown(path, pw.pw_uid, pw.pw_gid)
            if self._run(["test", "-w", data, "-a", "-w", log], check=False).returncode:
                raise StackError(
                    f"the postgres system user cannot reach {data} (as root, the cluster runs "
                    "as postgres, which needs to enter every parent directory): choose a "
                    "--data-dir it can reach, e.g. under /srv or /var/lib"
                )
        pg_ctl = os.path.join(self.bindir, "pg_ctl")
        if fresh:
            proc = self._initdb(data)
            if proc.returncode != 0:
                out = (proc.stderr or proc.stdout).strip().splitlines()
                raise StackError(f"initdb in {data} failed: {out[-1] if out else proc.returncode}")
        elif self._run([pg_ctl, "-D", data, "status"], check=False).returncode == 0:
            stop = " ".join(self._cmd([pg_ctl, "-D", data, "stop"]))
            raise StackError(
                f"a PostgreSQL server is already running on {data} (another ./scripts/run on "
                f"this data directory?): stop that one first, or stop the server with `{stop}`"
            )
        proc = self._pg_start(data, f"-k {sockdir} -c listen_addresses=''", log, timeout=120)
        if proc.returncode != 0:
            raise StackError(f"the PostgreSQL cluster in {data} did not start: see {log}")
        return self._started(data, sockdir)

    def export_env(self):
        """Variables with which a child process (the tests) can restart this private cluster
        (``Cluster.from_env``); for an external server, which is not ours to restart, only
        ``LEGAL_TEST_PG_EXTERNAL=1``."""
        if self.external:
            return {ENV_PG_EXTERNAL: "1"}
        if not self.started:
            return {}
        return {
            ENV_PG_BINDIR: self.bindir,
            ENV_PGDATA: self.data,
            ENV_PG_RUN_AS: self.run_as or "",
        }

    @classmethod
    def from_env(cls):
        """The private cluster started by ``scripts/test``, as its children see it.

        :raise StackError: outside ``scripts/test`` or on an external server (nothing to
            restart), one line saying so.
        """
        bindir, data = os.environ.get(ENV_PG_BINDIR), os.environ.get(ENV_PGDATA)
        if not (bindir and data and os.path.isdir(data)):
            raise StackError(
                f"{ENV_PG_BINDIR} and {ENV_PGDATA} are not set (or the data directory is gone): "
                "restarting PostgreSQL needs the private cluster of ./scripts/test, run the test "
                "through it without PGHOST/LEGAL_DB_HOST"
            )
        cluster = cls()
        cluster.external = False
        cluster.bindir = bindir
        cluster.data = data
        cluster.run_as = os.environ.get(ENV_PG_RUN_AS) or None
        cluster.host = os.environ.get("PGHOST")
        cluster.started = True
        cluster.borrowed = True  # stop() leaves it to the process that started it
        return cluster

    def restart(self, mode="fast"):
        """Restart the private cluster (fault tests): ``pg_ctl restart -m <mode>``, which
        disconnects every client; no-op on an external server.

        :raise StackError: when pg_ctl fails (its last line of output)
        """
        if not self.started:
            return
        proc = self._run(
            [
                os.path.join(self.bindir, "pg_ctl"),
                "-D",
                self.data,
                "-w",
                "-t",
                "60",
                "-m",
                mode,
                # a log file, or the server keeps our capture pipes open and we wait forever
                "-l",
                os.path.join(os.path.dirname(self.data), "postgresql.log"),
                "restart",
            ],
            check=False,
        )
        if proc.returncode != 0:
            out = (proc.stderr or proc.stdout).strip().splitlines()
            raise StackError(f"pg_ctl restart failed: {out[-1] if out else proc.returncode}")

    def stop(self):
        """Stop the cluster started here: a throwaway one at once (``-m immediate``), a
        persistent one cleanly (``-m fast``: clients disconnected, open transactions rolled
        back, a checkpoint written)."""
        if self.started and not self.borrowed:
            self._run(
                [
                    os.path.join(self.bindir, "pg_ctl"),
                    "-D",
                    self.data,
                    "-m",
                    "fast" if self.persistent else "immediate",
                    "-w",
                    "-t",
                    "120",
                    "stop",
                ],
                check=False,
            )
            self.started = False

    def env(self):
        """Environment for libpq clients (psql, dropdb) to reach this server."""
        env = dict(os.environ, PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.user)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def odoo_options(self):
        opts = {"db_host": self.host, "db_port": self.port, "db_user": self.user}
        if self.password:
            opts["db_password"] = self.password
        return opts


def write_config(path, cluster, odoo_dir, db_name, http_port, data_dir, extra=None, demo=True):
    """Write an Odoo configuration file for this run and return its path.

    ``data_dir`` is Odoo's data directory (filestore, sessions; None: Odoo's default);
    ``demo=False`` installs addons without their demo data (``without_demo = all``).
    """
    options = {
        "addons_path": addons_path(odoo_dir),
        "data_dir": data_dir,
        "db_name": db_name,
        "dbfilter": f"^{db_name}$",
        "list_db": "False",
        "http_port": http_port,
        "http_interface": "127.0.0.1",
        "gevent_port": free_port(),
        "max_cron_threads": 0,
        "without_demo": "False" if demo else "all",
        **cluster.odoo_options(),
        **(extra or {}),
    }
    lines = ["[options]"] + [
        f"{key} = {value}" for key, value in options.items() if value is not None
    ]
    Path(path).write_text("\n".join(lines) + "\n")
    return path


#: The Odoo launcher: this very file, run as a script, is what ``odoo-bin`` is (see the end of
#: the file). ``python3 -m odoo`` cannot be used: in multi-process mode (``--workers``) Odoo's
#: master starts its gevent process by re-running ``sys.argv[0]`` with a ``gevent`` command,
#: and under ``-m`` that is ``odoo/__main__.py``, which then fails to import.
LAUNCHER = Path(__file__).resolve()


def odoo_cmd(config, *args):
    """The command line of an Odoo server (or ``--stop-after-init`` run) on ``config``."""
    return [sys.executable, str(LAUNCHER), "-c", config, *args]


def install_addons(config, db_name, log_path, modules=None, log_hint=None):
    """Create ``db_name`` and install the addons with demo data; raise StackError on failure.

    The error names the first ERROR/CRITICAL line of the log, then ``log_hint`` (default: the
    log's path; pass another hint when the log is about to be removed).
    """
    modules = modules or ADDONS
    with open(log_path, "w") as log:
        proc = subprocess.run(
            odoo_cmd(
                config,
                "-d",
                db_name,
                "-i",
                ",".join(modules),
                "--stop-after-init",
                "--log-level=info",
                "--no-http",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    text = Path(log_path).read_text(errors="replace")
    bad = [line for line in text.splitlines() if " ERROR " in line or " CRITICAL " in line]
    if proc.returncode != 0 or bad:
        # An uncaught exception is not logged as ERROR: its last unindented line says it.
        last = [line for line in text.splitlines() if line.strip() and not line[0].isspace()]
        first = bad[0] if bad else (last[-1] if last else f"exit code {proc.returncode}")
        raise StackError(
            f"installing {', '.join(modules)} failed: {first.strip()[:300]} "
            f"({log_hint or f'full log: {log_path}'})"
        )


def _connect(cluster, dbname):
    import psycopg2  # noqa: PLC0415 - Odoo's dependency: importable once Odoo is

    kwargs = {"host": cluster.host, "port": cluster.port, "user": cluster.user}
    if cluster.password:
        kwargs["password"] = cluster.password
    return psycopg2.connect(dbname=dbname, connect_timeout=10, **kwargs)


def database_state(cluster, db_name, modules=None):
    """``"missing"``, ``"incomplete"`` (one of ``modules`` not installed) or ``"ready"``.

    :raise StackError: when the server cannot be reached.
    """
    import psycopg2  # noqa: PLC0415

    modules = modules or ADDONS
    try:
        with contextlib.closing(_connect(cluster, "postgres")) as conn, conn.cursor() as cr:
            cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name])
            if not cr.fetchone():
                return "missing"
        with contextlib.closing(_connect(cluster, db_name)) as conn, conn.cursor() as cr:
            cr.execute("SELECT to_regclass('ir_module_module') IS NOT NULL")
            if not cr.fetchone()[0]:
                return "incomplete"
            cr.execute(
                "SELECT count(*) FROM ir_module_module WHERE state = 'installed' "
                "AND name = ANY(%s)",
                [list(modules)],
            )
            return "ready" if cr.fetchone()[0] == len(modules) else "incomplete"
    except psycopg2.Error as exc:
        raise StackError(
            f"cannot reach PostgreSQL at {cluster.host}:{cluster.port} as {cluster.user}: "
            f"{str(exc).strip().splitlines()[0]} (check PGHOST/LEGAL_DB_* settings)"
        ) from exc


def drop_database(cluster, db_name):
    """Drop ``db_name`` if it exists; errors are ignored (best-effort cleanup)."""
    import psycopg2  # noqa: PLC0415
    from psycopg2 import sql  # noqa: PLC0415

    with contextlib.suppress(psycopg2.Error):
        conn = _connect(cluster, "postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cr:
                cr.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(db_name)))
        finally:
            conn.close()


@contextlib.contextmanager
def workspace(prefix, keep=False):
    """A temporary directory removed on exit (also on SIGTERM), unless ``keep``."""
    path = tempfile.mkdtemp(prefix=prefix)
    previous = signal.getsignal(signal.SIGTERM)

    def _terminate(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    try:
        yield path
    finally:
        signal.signal(signal.SIGTERM, previous)
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    # The Odoo launcher (``odoo_cmd``), as Odoo's own ``odoo-bin``: the server in UTC.
    os.environ["TZ"] = "UTC"
    import time  # noqa: PLC0415

    time.tzset()
    import odoo  # noqa: PLC0415

    odoo.cli.main()
