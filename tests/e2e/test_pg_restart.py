"""PostgreSQL restarted in the middle of a run (issue 8, item 2): no money lost or duplicated.

Clients pay invoices (operating provider) and retainers (trust provider) by card through the
portal, concurrently, over the real multi-process server; while some payments are done and
others have not started, PostgreSQL is restarted (``pg_ctl restart -m fast``: every
connection is cut, the transactions in flight are rolled back). A client whose page answers a
server error meanwhile reloads it, as a person does. Then Stripe re-delivers every event
(at least once; again until acknowledged, as Stripe retries a failed delivery).

Afterwards, each PaymentIntent that succeeded at Stripe gives exactly one processed
transaction and exactly one posted payment (invoices) or trust deposit (retainers); no
transaction is paid without a PaymentIntent that succeeded; every invoice is paid once, every
retainer credited once; every event of the inbox is processed; the three-way reconciliation
is balanced and no matter is below zero.

The restart needs the private cluster of ``./scripts/test`` (``stack.Cluster.from_env``):
without it, the test fails and says so; ``./scripts/test`` on an external server (PGHOST)
says so and the test is skipped (that server is not ours to restart).
"""

import concurrent.futures
import os

import pytest

from .harness import (
    PortalClient,
    assert_trust_invariants,
    call,
    invoice_checkout,
    redeliver,
    retainer_checkout,
    stack,
    stripe_events,
    wait_for,
    wake_cron_worker,
)
from .test_story import _card_method, _client_and_matter, _invoice, _stripe_provider

INVOICES = 10
RETAINERS = 3
CLIENTS = 4  # paying at the same time


def restartable_cluster():
    if os.environ.get(stack.ENV_PG_EXTERNAL):
        # ./scripts/test on the server of PGHOST/LEGAL_DB_HOST (e.g. the compose `tests`
        # service): a server shared with others is not restarted by a test.
        pytest.skip("PostgreSQL is an external server (PGHOST): not restarted by the tests")
    try:
        return stack.Cluster.from_env()
    except stack.StackError as exc:
        pytest.fail(f"cannot restart PostgreSQL: {exc}", pytrace=False)


def _retainer_request(firm, n):
    _partner, matter = _client_and_matter(firm, f"Restart retainer {n}")
    firm.env["legal.matter"].write(
        [matter],
        {
            "retainer_enabled": True,
            "retainer_initial_amount": 200.0 + n,
            "retainer_minimum_balance": 0.0,
            "retainer_topup_trigger": 0.0,
        },
    )
    call(firm, "legal.matter", "action_request_retainer", [matter])
    (request_id,) = firm.env["legal.retainer.request"].search(
        [("matter_id", "=", matter), ("kind", "=", "initial")]
    )
    return matter, request_id


def test_postgresql_restarted_in_the_middle(firm, stripe, portal, odoo_server):
    cluster = restartable_cluster()
    db_name = os.environ["LEGAL_TEST_DB"]
    card = _card_method(firm)
    operating, trust = _stripe_provider(firm, trust=False), _stripe_provider(firm, trust=True)
    partner, matter = _client_and_matter(firm, "PostgreSQL restart")
    invoices = [_invoice(firm, partner, matter, 100.0 + i) for i in range(INVOICES)]
    checkouts = [invoice_checkout(firm, inv, operating, card) for inv in invoices]
    retainers = dict(_retainer_request(firm, n) for n in range(RETAINERS))  # matter: request
    checkouts += [retainer_checkout(firm, portal, r, trust, card) for r in retainers.values()]
    assert_trust_invariants(firm, "before the run")

    def pay(checkout):
        return PortalClient(odoo_server.url, stripe.url).checkout(checkout, patience=180)

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(pay, c) for c in checkouts]
        wait_for(lambda: sum(f.done() for f in futures) >= 2, 180, message="two payments")
        pending_at_restart = sum(not f.done() for f in futures)
        cluster.restart("fast")
        outcomes = [f.result() for f in futures]  # a client who saw an error fails the test
    assert pending_at_restart >= CLIENTS, "the restart came after the run"
    intents = {o.intent["id"]: c for o, c in zip(outcomes, checkouts, strict=True)}
    assert len(intents) == len(checkouts)

    # Stripe: every PaymentIntent of this run that succeeded is one a client paid.
    listed = portal.stripe("GET", "payment_intents", {"limit": 100})["data"]
    succeeded = {pi["id"] for pi in listed if pi["status"] == "succeeded"}
    assert succeeded == set(intents), succeeded ^ set(intents)

    # Stripe re-delivers every event (those lost in the restart, and the others again).
    events = [e for e in stripe_events(stripe.url, "payment_intent.succeeded")]
    assert {e["data"]["object"]["id"] for e in events} == succeeded
    deliveries = {e["id"]: redeliver(odoo_server.url, e) for e in events}
    unacknowledged = {e: s for e, s in deliveries.items() if s[-1] != 200}
    assert not unacknowledged, f"events never acknowledged: {unacknowledged}"

    def inbox():
        return firm.env["legal.stripe.event"].search_read(
            [("object_id", "in", list(succeeded)), ("event_type", "=", "payment_intent.succeeded")],
            ["state", "object_id", "state_message"],
        )

    def all_processed():
        wake_cron_worker(db_name)
        rows = inbox()
        return len(rows) == len(succeeded) and all(r["state"] != "pending" for r in rows)

    wait_for(all_processed, 120, interval=1, message="the inbox to process every event")
    rows = inbox()
    assert sorted(r["object_id"] for r in rows) == sorted(succeeded), "one event per intent"
    assert {r["state"] for r in rows} == {"done"}, rows

    # Each succeeded PaymentIntent: one transaction, done, and one posted payment or deposit.
    for intent_id, checkout in intents.items():
        txs = firm.env["payment.transaction"].search_read(
            [("provider_reference", "=", intent_id)],
            ["state", "is_post_processed", "reference", "amount", "legal_trust_move_id"],
        )
        assert len(txs) == 1, (intent_id, txs)
        (tx,) = txs
        assert (tx["state"], tx["is_post_processed"]) == ("done", True), tx
        assert tx["amount"] == checkout["params"]["amount"], tx
        payments = firm.env["account.payment"].search_read(
            [("payment_transaction_id", "=", tx["id"])], ["state", "amount", "move_id"]
        )
        if "invoice_id" in checkout:
            assert len(payments) == 1, (tx, payments)
            assert payments[0]["amount"] == tx["amount"]
            (move,) = firm.env["account.move"].read([payments[0]["move_id"][0]], ["state"])
            assert move["state"] == "posted", payments
        else:
            assert not payments, payments  # a trust deposit is no account.payment
            assert tx["legal_trust_move_id"], tx
            (move,) = firm.env["account.move"].read([tx["legal_trust_move_id"][0]], ["state"])
            assert move["state"] == "posted", tx
            assert (
                firm.env["account.move.line"].search_count(
                    [("name", "ilike", tx["reference"]), ("parent_state", "=", "posted")]
                )
                == 2  # the trust bank line and the client's ledger line: one deposit
            )

    # No transaction paid without a PaymentIntent that succeeded.
    done = firm.env["payment.transaction"].search_read(
        [
            "|",
            ("invoice_ids", "in", invoices),
            ("legal_retainer_request_id", "in", list(retainers.values())),
            ("state", "=", "done"),
        ],
        ["provider_reference"],
    )
    assert sorted(t["provider_reference"] for t in done) == sorted(succeeded)

    # Every invoice paid once, every retainer credited once.
    for inv in firm.env["account.move"].read(
        invoices, ["payment_state", "amount_residual", "amount_total"]
    ):
        assert inv["payment_state"] in ("paid", "in_payment"), inv
        assert inv["amount_residual"] == 0.0, inv
    for matter_id, request_id in retainers.items():
        (req,) = firm.env["legal.retainer.request"].read([request_id], ["amount", "state"])
        (figures,) = firm.env["legal.matter"].read([matter_id], ["trust_balance"])
        assert req["state"] == "paid", req
        assert figures["trust_balance"] == req["amount"], (req, figures)
    assert_trust_invariants(firm, "PostgreSQL restarted and every event re-delivered")
    # What the restart did to the clients (for the record when the test is run with -s).
    print(
        f"restart with {pending_at_restart} payments to go: "
        f"{sum(o.reloads for o in outcomes)} pages reloaded after a server error, "
        f"{sum(len(s) - 1 for s in deliveries.values())} deliveries repeated"
    )
