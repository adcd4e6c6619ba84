"""Faults over the real server (issue 8, item 2).

A cron worker killed between the webhook's acknowledgement and its processing: the event
was stored by the HTTP worker that acknowledged it, the cron worker that would process it
is stopped (SIGSTOP) then killed (SIGKILL); Odoo's master spawns a new one, which processes
the event exactly once; Stripe's re-delivery of the same event changes nothing.
"""

import json
import os
import signal
import time

import psycopg2

from .harness import assert_trust_invariants, deliver_event, wait_for
from .test_story import _client_and_matter, _invoice, client_pays_invoice_by_card


def _wake_cron_worker(db_name):
    """NOTIFY the cron workers' channel, as any new trigger does: a freshly spawned cron
    worker otherwise sleeps up to 70 s before its first poll."""
    with psycopg2.connect(dbname="postgres") as conn:
        conn.autocommit = True
        with conn.cursor() as cr:
            cr.execute("NOTIFY cron_trigger, %s", [db_name])


def _events(firm, intent_id):
    return firm.env["legal.stripe.event"].search_read(
        [("object_id", "=", intent_id), ("event_type", "=", "payment_intent.succeeded")],
        ["state", "stripe_event_id", "attempts"],
    )


def test_cron_worker_killed_after_the_acknowledgement(firm, stripe, portal, odoo_server):
    db_name = os.environ["LEGAL_TEST_DB"]
    partner, matter = _client_and_matter(firm, "Killed worker")
    invoice = _invoice(firm, partner, matter, 321.0)
    cron_pid = odoo_server.cron_worker_pid()
    os.kill(cron_pid, signal.SIGSTOP)
    try:
        intent = client_pays_invoice_by_card(firm, portal, invoice)
        # Acknowledged and stored by an HTTP worker; nobody processes it meanwhile.
        events = wait_for(lambda: _events(firm, intent["id"]), 30, message="the webhook")
        time.sleep(1)
        assert [e["state"] for e in _events(firm, intent["id"])] == ["pending"], events
        (inv,) = firm.env["account.move"].read([invoice], ["payment_state"])
        assert inv["payment_state"] == "not_paid"
    finally:
        os.kill(cron_pid, signal.SIGKILL)
    new_pid = wait_for(
        lambda: (pid := odoo_server.cron_worker_pid()) != cron_pid and pid,
        30,
        message="a new cron worker",
    )
    assert new_pid != cron_pid

    def processed():
        _wake_cron_worker(db_name)
        return [e["state"] for e in _events(firm, intent["id"])] == ["done"]

    wait_for(processed, 60, interval=1, message="the event to be processed by the new worker")
    (inv,) = firm.env["account.move"].read([invoice], ["payment_state"])
    assert inv["payment_state"] in ("paid", "in_payment"), inv
    txs = firm.env["payment.transaction"].search([("provider_reference", "=", intent["id"])])
    assert len(txs) == 1
    assert firm.env["account.payment"].search_count([("payment_transaction_id", "in", txs)]) == 1

    # Stripe delivers the same event again (at least once): nothing more is posted.
    event_id = _events(firm, intent["id"])[0]["stripe_event_id"]
    listed = portal.stripe("GET", f"events/{event_id}")
    assert deliver_event(odoo_server.url, json.loads(json.dumps(listed))) == 200
    _wake_cron_worker(db_name)
    time.sleep(2)
    assert len(_events(firm, intent["id"])) == 1
    assert firm.env["account.payment"].search_count([("payment_transaction_id", "in", txs)]) == 1
    assert_trust_invariants(firm, "worker killed and event re-delivered")
