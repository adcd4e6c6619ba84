"""The firm's story over real HTTP: a third-party JSON-RPC client (odoorpc) plays the firm,
plain HTTP plays the client's browser and Stripe.js, the Stripe emulator delivers signed
webhooks to a multi-process Odoo server. After every step the three-way reconciliation of
every trust journal is balanced and no matter is below zero."""

import itertools

from .harness import assert_trust_invariants, call, wait_for

_names = itertools.count(1)


def _client_and_matter(firm, title):
    n = next(_names)
    partner = firm.env["res.partner"].create(
        {"name": f"E2E Client {n} {title}", "email": f"e2e-client-{n}@example.com"}
    )
    matter = firm.env["legal.matter"].create({"title": title, "partner_id": partner})
    return partner, matter


def _invoice(firm, partner, matter, amount, post=True):
    invoice = firm.env["account.move"].create(
        {
            "move_type": "out_invoice",
            "partner_id": partner,
            "matter_id": matter,
            "invoice_line_ids": [
                (
                    0,
                    0,
                    {
                        "name": "Legal services",
                        "quantity": 1,
                        "price_unit": amount,
                        "tax_ids": [(6, 0, [])],
                    },
                )
            ],
        }
    )
    if post:
        call(firm, "account.move", "action_post", [invoice])
    return invoice


def _matter(firm, matter):
    (values,) = firm.env["legal.matter"].read(
        [matter], ["trust_balance", "trust_available", "trust_uncleared"]
    )
    return values


def test_firm_deposits_and_pays_an_invoice_from_trust(firm):
    assert_trust_invariants(firm, "start")
    partner, matter = _client_and_matter(firm, "Deposit and invoice")
    assert_trust_invariants(firm, "client and matter created")

    move_id = call(firm, "legal.matter", "trust_deposit", [matter], 1000.0, memo="Wire")
    assert isinstance(move_id, int)
    assert _matter(firm, matter)["trust_available"] == 1000.0
    assert_trust_invariants(firm, "deposit of 1,000")

    invoice = _invoice(firm, partner, matter, 700.0)
    trust_move, operating_move = call(firm, "legal.matter", "trust_pay_invoice", [matter], invoice)
    (inv,) = firm.env["account.move"].read([invoice], ["payment_state", "amount_residual"])
    assert inv["payment_state"] in ("paid", "in_payment"), inv
    assert inv["amount_residual"] == 0.0
    assert firm.env["account.move"].read([trust_move, operating_move], ["state"]) == [
        {"id": trust_move, "state": "posted"},
        {"id": operating_move, "state": "posted"},
    ]
    figures = _matter(firm, matter)
    assert (figures["trust_balance"], figures["trust_available"]) == (300.0, 300.0)
    assert_trust_invariants(firm, "invoice of 700 paid from trust")

    # The firm cannot overdraw the matter: refused over RPC, nothing changes.
    invoice_2 = _invoice(firm, partner, matter, 500.0)
    try:
        call(firm, "legal.matter", "trust_pay_invoice", [matter], invoice_2)
    except Exception as exc:  # noqa: BLE001 - odoorpc raises RPCError with the server's message
        assert "overdraft" in str(exc).lower(), exc
    else:
        raise AssertionError("paying 500 from 300 available must be refused")
    assert _matter(firm, matter)["trust_available"] == 300.0
    assert_trust_invariants(firm, "refused overdraft")


def _stripe_provider(firm, trust):
    providers = firm.env["payment.provider"].search_read(
        [("code", "=", "stripe"), ("state", "!=", "disabled")], ["legal_is_trust"]
    )
    provider = next((p["id"] for p in providers if p["legal_is_trust"] == trust), None)
    assert provider, f"no {'trust' if trust else 'operating'} Stripe provider in the demo data"
    return provider


def _card_method(firm):
    return firm.env["payment.method"].search([("code", "=", "card")], limit=1)[0]


def client_pays_retainer_by_card(firm, portal, request_id):
    """The client opens the request's e-mailed link, pays what is due by card (the payment
    form's transaction route, then Stripe.js at the emulator); returns the amount."""
    (request,) = firm.env["legal.retainer.request"].read([request_id], ["access_token"])
    query = portal.redirect_query(
        f"/my/retainers/{request_id}/pay?access_token={request['access_token']}"
    )
    amount = float(query["amount"])
    processing = portal.json_route(
        f"/legal/retainer/transaction/{request_id}",
        {
            "access_token": query["access_token"],
            "amount": amount,
            "provider_id": _stripe_provider(firm, trust=True),
            "payment_method_id": _card_method(firm),
            "token_id": None,
            "flow": "direct",
            "tokenization_requested": False,
            "landing_route": f"/my/retainers/{request_id}",
        },
    )
    intent = portal.pay_with_card(processing)
    assert intent["status"] == "succeeded", intent
    return amount


def client_pays_invoice_by_card(firm, portal, invoice_id):
    """The client opens the invoice's portal link and pays its residual by card through
    the operating provider; returns the PaymentIntent."""
    url = call(firm, "account.move", "get_portal_url", [invoice_id])
    token = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&"))["access_token"]
    (invoice,) = firm.env["account.move"].read([invoice_id], ["amount_residual"])
    processing = portal.json_route(
        f"/invoice/transaction/{invoice_id}",
        {
            "access_token": token,
            "amount": invoice["amount_residual"],
            "provider_id": _stripe_provider(firm, trust=False),
            "payment_method_id": _card_method(firm),
            "token_id": None,
            "flow": "direct",
            "tokenization_requested": False,
            "landing_route": url,
        },
    )
    intent = portal.pay_with_card(processing)
    assert intent["status"] == "succeeded", intent
    return intent


def _request_state(firm, request_id):
    (request,) = firm.env["legal.retainer.request"].read(
        [request_id], ["state", "amount_paid", "amount_due", "kind", "amount"]
    )
    return request


def test_retainer_paid_by_card_through_stripe_webhooks_then_topup(firm, stripe, portal):
    partner, matter = _client_and_matter(firm, "Retainer story")
    firm.env["legal.matter"].write(
        [matter],
        {
            "retainer_enabled": True,
            "retainer_initial_amount": 1000.0,
            "retainer_minimum_balance": 500.0,
            "retainer_topup_trigger": 300.0,
        },
    )
    call(firm, "legal.matter", "action_request_retainer", [matter])
    (request_id,) = firm.env["legal.retainer.request"].search(
        [("matter_id", "=", matter), ("kind", "=", "initial")]
    )
    request = _request_state(firm, request_id)
    assert (request["state"], request["amount_due"]) == ("sent", 1000.0)
    assert_trust_invariants(firm, "retainer requested")

    # The client pays by card; Stripe's signed webhook reaches the server, whose inbox cron
    # (in the cron worker) credits the matter's trust ledger.
    assert client_pays_retainer_by_card(firm, portal, request_id) == 1000.0
    wait_for(
        lambda: _request_state(firm, request_id)["state"] == "paid",
        60,
        message="the retainer payment's webhook to be processed",
    )
    events = firm.env["legal.stripe.event"].search_read(
        [("event_type", "=", "payment_intent.succeeded")], ["state"], order="id desc", limit=1
    )
    assert events and events[0]["state"] == "done", events
    assert _matter(firm, matter)["trust_available"] == 1000.0
    assert_trust_invariants(firm, "retainer paid by card")

    # Automatic top-ups are turned on once the initial retainer is in: turned on with
    # nothing in trust yet, a top-up of the whole minimum would go out at once, beside the
    # initial request.
    firm.env["legal.matter"].write([matter], {"retainer_auto_topup": True})
    assert not firm.env["legal.retainer.request"].search(
        [("matter_id", "=", matter), ("kind", "=", "topup")]
    )

    # The firm posts an invoice of 700 and pays it from trust: 300 left, at the trigger, and
    # the top-up request goes out by itself: minimum 500 - available 300.
    invoice = _invoice(firm, partner, matter, 700.0)
    call(firm, "legal.matter", "trust_pay_invoice", [matter], invoice)
    assert _matter(firm, matter)["trust_available"] == 300.0
    assert_trust_invariants(firm, "invoice of 700 paid from trust")
    topups = firm.env["legal.retainer.request"].search(
        [("matter_id", "=", matter), ("kind", "=", "topup")]
    )
    assert len(topups) == 1, topups
    topup = _request_state(firm, topups[0])
    assert (topup["state"], topup["amount"]) == ("sent", 200.0), topup
    assert_trust_invariants(firm, "top-up requested")

    # The client pays the top-up by card (ACH through the emulator: not available).
    assert client_pays_retainer_by_card(firm, portal, topups[0]) == 200.0
    wait_for(
        lambda: _request_state(firm, topups[0])["state"] == "paid",
        60,
        message="the top-up payment's webhook to be processed",
    )
    figures = _matter(firm, matter)
    assert (figures["trust_balance"], figures["trust_available"]) == (500.0, 500.0)
    assert_trust_invariants(firm, "top-up paid by card")


def test_invoice_paid_by_card_is_paid_once(firm, stripe, portal):
    partner, matter = _client_and_matter(firm, "Invoice by card")
    invoice = _invoice(firm, partner, matter, 480.0)
    intent = client_pays_invoice_by_card(firm, portal, invoice)
    wait_for(
        lambda: firm.env["account.move"].read([invoice], ["payment_state"])[0]["payment_state"]
        in ("paid", "in_payment"),
        60,
        message="the invoice payment's webhook to be processed",
    )
    txs = firm.env["payment.transaction"].search_read(
        [("provider_reference", "=", intent["id"])], ["state", "payment_id"]
    )
    assert len(txs) == 1 and txs[0]["state"] == "done", txs
    assert (
        firm.env["account.payment"].search_count([("payment_transaction_id", "=", txs[0]["id"])])
        == 1
    )
    assert_trust_invariants(firm, "invoice paid by card")
