"""Fixtures of the end-to-end suite (``tests/e2e``).

Run through ``./scripts/test`` (``./scripts/test tests/e2e`` for this suite alone): it
creates the database with the four addons and exports ``LEGAL_TEST_ODOO_CONFIG``,
``LEGAL_TEST_DB``, ``LEGAL_TEST_WORKDIR`` and the ``PG*`` variables of its PostgreSQL.

* ``odoo_server`` (session): a real Odoo server (``stack.odoo_cmd``) with ``--workers=2`` and
  ``--max-cron-threads=1`` on a free loopback port against that database, configured by the
  firm over JSON-RPC for the Stripe emulator (API base, webhook secret of both providers);
  stopped at the end of the session with its whole process group.
* ``firm`` (session): an ``odoorpc`` JSON-RPC session logged in as the firm's admin.
* ``stripe`` (per test): the emptied Stripe emulator delivering signed webhooks to the
  server's webhook route.
* ``portal``: the client's HTTP side (portal routes, and Stripe.js's calls to the emulator).
"""

import os
import tempfile

import pytest

from .harness import (
    STRIPE_API_BASE_PARAM,
    WEBHOOK_SECRET,
    OdooServer,
    PortalClient,
    firm_client,
    register_webhook,
)


def _settings():
    config = os.environ.get("LEGAL_TEST_ODOO_CONFIG")
    db_name = os.environ.get("LEGAL_TEST_DB")
    if not (config and db_name and os.path.exists(config)):
        pytest.fail(
            "the end-to-end suite needs the database of ./scripts/test "
            "(LEGAL_TEST_ODOO_CONFIG and LEGAL_TEST_DB unset): run ./scripts/test tests/e2e",
            pytrace=False,
        )
    workdir = os.environ.get("LEGAL_TEST_WORKDIR") or tempfile.gettempdir()
    return config, db_name, workdir


@pytest.fixture(scope="session")
def e2e_settings():
    return _settings()


@pytest.fixture(scope="session")
def odoo_server(e2e_settings, stripe_emulator_server):
    config, db_name, workdir = e2e_settings
    server = OdooServer(config, db_name, os.path.join(workdir, "e2e-odoo.log"))
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(f"end-to-end server: {exc}", pytrace=False)
    try:
        odoo = firm_client(server, db_name)
        params = odoo.env["ir.config_parameter"]
        params.set_param(STRIPE_API_BASE_PARAM, stripe_emulator_server.url)
        params.set_param("web.base.url", server.url)
        providers = odoo.env["payment.provider"].search([("code", "=", "stripe")])
        odoo.env["payment.provider"].write(
            providers, {"stripe_webhook_secret": WEBHOOK_SECRET, "state": "test"}
        )
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def firm(odoo_server, e2e_settings):
    return firm_client(odoo_server, e2e_settings[1])


@pytest.fixture
def stripe(stripe_emulator, odoo_server):
    register_webhook(stripe_emulator.url, odoo_server.url)
    return stripe_emulator


@pytest.fixture
def portal(odoo_server, stripe_emulator_server):
    return PortalClient(odoo_server.url, stripe_emulator_server.url)
