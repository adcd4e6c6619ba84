"""Pytest configuration for the whole repository (``addons/*/tests`` and ``tests/``).

Run through ``./scripts/test``, which starts PostgreSQL, installs the addons and passes
pytest-odoo its options. This file adds:

* **The Stripe emulator** (``tests/stripe_emulator.py``): started once per session by an autouse
  fixture (it is cheap), stopped at the end. While it runs, the environment holds:

  - ``LEGAL_STRIPE_API_BASE``: ``http://127.0.0.1:<port>``, the emulator's root, in the form of
    Stripe's ``https://api.stripe.com`` (no ``/v1``, no trailing slash): the value to put in the
    system parameter ``legal_payments.stripe_api_base``. The API is under ``<base>/v1/``, the
    emulator's controls under ``<base>/_config/`` (``POST /_config/webhooks/<id>`` with ``url``,
    ``secret``, optional ``events[]``; ``DELETE /_config/data``).

  Odoo test classes (``TransactionCase``, ``HttpCase``...) that talk to it set the class
  attribute ``stripe_emulator = True``: the emulator is then emptied (objects, webhooks,
  idempotent responses) before each of their tests. Create emulator objects in the test or in
  ``setUp``, not in ``setUpClass``. Plain pytest tests ask for the ``stripe_emulator`` fixture,
  which empties it and returns an object with ``url`` (the base), ``api_url`` (``<base>/v1/``)
  and ``port``.

* **A quiet test-framework import**: Odoo logs an ERROR "Importing test framework, avoid
  importing from business modules..." when ``odoo.tests`` is first imported outside test mode,
  which pytest-odoo does on purpose right after parsing the configuration. That one import is
  done here in test mode instead; every other log line is left as it is.
"""

import os
import select
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
EMULATOR_SCRIPT = ROOT / "tests" / "stripe_emulator.py"
EMULATOR_START_TIMEOUT = 30
ENV_API_BASE = "LEGAL_STRIPE_API_BASE"


# --------------------------------------------------------------------------- odoo.tests import
def _import_test_framework_in_test_mode():
    """Wrap ``odoo.tools.config.parse_config`` so that the first import of ``odoo.tests``,
    right after the configuration is parsed (by pytest-odoo), happens with ``test_enable`` on,
    which turns Odoo's import-time ERROR into an INFO line. ``test_enable`` is put back as it
    was immediately after, so the registry is loaded outside test mode as pytest-odoo wants.
    """
    try:
        import odoo.tools  # noqa: PLC0415
    except ImportError:  # plain pytest without Odoo: nothing to quiet
        return
    config = odoo.tools.config
    original = config.parse_config
    if getattr(original, "_legal_wrapped", False):
        return

    def parse_config(*args, **kwargs):
        result = original(*args, **kwargs)
        if "odoo.tests" not in sys.modules:
            previous = config["test_enable"]
            config["test_enable"] = True
            try:
                import odoo.tests  # noqa: F401, PLC0415
            finally:
                config["test_enable"] = previous
        return result

    parse_config._legal_wrapped = True
    config.parse_config = parse_config


_import_test_framework_in_test_mode()


# --------------------------------------------------------------------------- stripe emulator
class StripeEmulator:
    """A ``tests/stripe_emulator.py`` subprocess on 127.0.0.1 and a free port."""

    def __init__(self, log_path):
        self.log_path = Path(log_path)
        self.process = None
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self):
        return f"{self.url}/v1/"

    def start(self, timeout=EMULATOR_START_TIMEOUT):
        """Start the emulator and wait for its ``LISTENING <port>`` line.

        :raise RuntimeError: one line saying why it did not start (its log is kept).
        """
        with open(self.log_path, "ab") as log:
            # stdin is a pipe that we never close: if this process dies without stopping the
            # emulator, the pipe closes and the emulator stops by itself.
            self.process = subprocess.Popen(  # noqa: S603
                [sys.executable, str(EMULATOR_SCRIPT), "--exit-on-stdin-eof"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=ROOT,
            )
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline().decode(errors="replace").strip() if ready else ""
        if not line.startswith("LISTENING "):
            exited = self.process.poll() is not None
            self.stop()
            tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:]
            raise RuntimeError(
                "the Stripe emulator (tests/stripe_emulator.py) "
                f"{'exited' if exited else f'did not start within {timeout}s'}: "
                f"{tail[0] if tail else 'no output'} (log: {self.log_path}); "
                "is localstripe==1.15.10 installed (pip install -r requirements-test.txt)?"
            )
        self.port = int(line.split()[1])
        return self

    def flush(self):
        """Empty the emulator: objects, registered webhooks and idempotent responses."""
        request = urllib.request.Request(f"{self.url}/_config/data", method="DELETE")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert response.status == 200, response.status

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            stream.close()
        self.process = None


@pytest.fixture(scope="session", autouse=True)
def stripe_emulator_server():
    """Start the Stripe emulator for the session and export its URLs (see module docstring)."""
    workdir = os.environ.get("LEGAL_TEST_WORKDIR")
    if workdir and os.path.isdir(workdir):
        log_path = os.path.join(workdir, "stripe-emulator.log")
        cleanup = None
    else:
        fd, log_path = tempfile.mkstemp(prefix="legal-stripe-emulator-", suffix=".log")
        os.close(fd)
        cleanup = log_path
    emulator = StripeEmulator(log_path)
    try:
        emulator.start()
    except RuntimeError as exc:
        pytest.exit(f"error: {exc}", returncode=1)
    saved = os.environ.get(ENV_API_BASE)
    os.environ[ENV_API_BASE] = emulator.url
    try:
        yield emulator
    finally:
        emulator.stop()
        if saved is None:
            os.environ.pop(ENV_API_BASE, None)
        else:
            os.environ[ENV_API_BASE] = saved
        if cleanup:
            Path(cleanup).unlink(missing_ok=True)


@pytest.fixture
def stripe_emulator(stripe_emulator_server):
    """The session's Stripe emulator, emptied for this test."""
    stripe_emulator_server.flush()
    return stripe_emulator_server


@pytest.fixture(autouse=True)
def _flush_stripe_emulator_for_marked_classes(request):
    """Empty the emulator before each test of a class with ``stripe_emulator = True``."""
    if getattr(request.cls, "stripe_emulator", False) is True:
        request.getfixturevalue("stripe_emulator_server").flush()
