"""Issue 8's whole story, part 1, with headless Chromium playing the client in the portal,
a third-party JSON-RPC client (odoorpc) playing the firm, and the Stripe emulator
(localstripe) delivering signed webhooks to a multi-process Odoo server. After every step
the three-way reconciliation of every trust journal is balanced and no matter is below zero.

Stripe.js cannot load offline: where the client's browser would mount Stripe's card element,
the harness reads the browser's payment page (its URL's access token and amount) and does
what Stripe.js does: it calls the page's transaction route, then confirms the PaymentIntent
at the emulator (``PortalClient.pay_with_card``).

ACH (step 4): the emulator knows no ``us_bank_account`` payment methods and never moves a
PaymentIntent to ``processing``. The server creates the PaymentIntent at the emulator (which
ignores its ``payment_method_types``), then this test delivers, signed as Stripe does
(``deliver_event``), recorded Stripe-shaped ``payment_intent.processing`` and
``payment_intent.succeeded`` events of that PaymentIntent. Nothing on the server is changed
for it: when the payment clears, the server asks the emulator for the intent's charge to
book the Stripe fee; the emulator's intent has none, so the fee is left "not available"
(``legal_fee_state``), as with a real ACH debit whose balance transaction is not there yet.
"""

import itertools
import re
import time
import urllib.parse

from .browser import BrowserError, Chromium
from .harness import assert_trust_invariants, call, deliver_event, wait_for
from .test_story import _card_method, _invoice, _matter, _request_state, _stripe_provider

_names = itertools.count(1)
PASSWORD = "client-e2e-Pa55"  # noqa: S105 - the throwaway portal user of the test


# --------------------------------------------------------------------------- the firm
def _portal_client(firm, title):
    """A client with portal access (a portal user with a password) and a matter."""
    n = f"{int(time.time())}-{next(_names)}"
    login = f"story-client-{n}@example.com"
    partner = firm.env["res.partner"].create({"name": f"Story Client {n}", "email": login})
    portal_group = firm.env.ref("base.group_portal").id
    firm.env["res.users"].create(
        {
            "name": f"Story Client {n}",
            "login": login,
            "password": PASSWORD,
            "partner_id": partner,
            "groups_id": [(6, 0, [portal_group])],
        }
    )
    matter = firm.env["legal.matter"].create({"title": title, "partner_id": partner})
    return partner, matter, login


def _receivable_residual(firm, partner):
    """What the client owes (positive) or has as unallocated credit (negative)."""
    lines = firm.env["account.move.line"].search_read(
        [
            ("partner_id", "=", partner),
            ("account_id.account_type", "=", "asset_receivable"),
            ("parent_state", "=", "posted"),
            ("reconciled", "=", False),
        ],
        ["amount_residual"],
    )
    return round(sum(line["amount_residual"] for line in lines), 2)


def _transactions(firm, domain):
    return firm.env["payment.transaction"].search_read(
        domain,
        ["reference", "state", "amount", "provider_reference", "payment_method_code"],
        order="id",
    )


# --------------------------------------------------------------------------- the client
def _login(browser, login):
    """The client signs in on the login page with its e-mail and password."""
    browser.goto("/web/login")
    # The form is shown by the page's script once it has started (web.user_switch).
    wait_for(
        lambda: browser.evaluate("!!document.querySelector('form.oe_login_form:not(.d-none)')"),
        30,
        message="the login form to be shown",
    )
    browser.evaluate(
        f"""(() => {{
            const form = document.querySelector('form.oe_login_form');
            form.querySelector('[name="login"]').value = {login!r};
            form.querySelector('[name="password"]').value = {PASSWORD!r};
            form.querySelector('button[type="submit"]').click();
        }})()"""
    )

    def signed_in():
        try:
            ready = browser.evaluate("document.readyState") == "complete"
            return ready and "/web/login" not in browser.url
        except BrowserError:
            return False  # the page is being replaced

    try:
        wait_for(signed_in, 30, message="the client to be signed in")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {browser.url} {browser.text()[:500]!r}") from exc


def _browser_pays_retainer_part(browser, request_id, amount):
    """In Chromium: the request's page, "Or pay part of it now", submitted with ``amount``;
    the browser lands on Odoo's payment form. Returns the form's URL query."""
    browser.goto(f"/my/retainers/{request_id}")
    assert "/my/retainers/" in browser.url, f"the client was sent away: {browser.url}"
    landed = browser.submit("form.o_retainer_pay_part", {"amount": f"{amount:.2f}"})
    page = urllib.parse.urlsplit(landed)
    assert page.path == "/payment/pay", f"the client landed on {landed}, not the payment form"
    query = dict(urllib.parse.parse_qsl(page.query))
    assert float(query["amount"]) == amount, query
    return query


def _retainer_transaction(firm, portal, request_id, query, payment_method_id):
    """What the payment form's script sends: the page's transaction route."""
    return portal.json_route(
        f"/legal/retainer/transaction/{request_id}",
        {
            "access_token": query["access_token"],
            "amount": float(query["amount"]),
            "provider_id": _stripe_provider(firm, trust=True),
            "payment_method_id": payment_method_id,
            "token_id": None,
            "flow": "direct",
            "tokenization_requested": False,
            "landing_route": f"/my/retainers/{request_id}",
        },
    )


def _invoice_transaction(firm, portal, invoice_id):
    """The invoice's payment page opened in one tab: its transaction route for the residual
    shown on the page (the transaction is created, not paid yet)."""
    url = call(firm, "account.move", "get_portal_url", [invoice_id])
    token = dict(urllib.parse.parse_qsl(url.split("?", 1)[1]))["access_token"]
    (invoice,) = firm.env["account.move"].read([invoice_id], ["amount_residual"])
    return portal.json_route(
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


def _ach_method(firm):
    """The ``ach_direct_debit`` payment method, enabled on the trust provider."""
    methods = firm.env["payment.method"].with_context(active_test=False)
    (method,) = methods.search_read([("code", "=", "ach_direct_debit")], ["active"])
    if not method["active"]:
        methods.write([method["id"]], {"active": True})
    provider = _stripe_provider(firm, trust=True)
    (values,) = firm.env["payment.provider"].read([provider], ["payment_method_ids"])
    if method["id"] not in values["payment_method_ids"]:
        firm.env["payment.provider"].write([provider], {"payment_method_ids": [(4, method["id"])]})
    return method["id"]


def _ach_event(event_id, tx, status):
    """A recorded Stripe-shaped event of the transaction's PaymentIntent paid by ACH."""
    intent = {
        "id": tx["provider_reference"],
        "object": "payment_intent",
        "description": tx["reference"],
        "amount": round(tx["amount"] * 100),
        "currency": "usd",
        "status": status,
        "payment_method": {
            "id": "pm_story_ach",
            "object": "payment_method",
            "type": "us_bank_account",
            "us_bank_account": {
                "account_holder_type": "individual",
                "bank_name": "STRIPE TEST BANK",
                "last4": "6789",
            },
        },
        "payment_method_types": ["us_bank_account"],
        "latest_charge": None,
    }
    return {
        "id": event_id,
        "object": "event",
        "type": f"payment_intent.{status}",
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": intent},
    }


def _money(text):
    return abs(float(re.sub(r"[^\d.]", "", text.replace(",", "")) or 0))


# --------------------------------------------------------------------------- the story
def test_client_story_in_the_portal(firm, stripe, portal, odoo_server):
    assert_trust_invariants(firm, "start")

    # 1. The firm: a client with portal access, a matter, retainers, the request sent.
    partner, matter, login = _portal_client(firm, "Client story")
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
    assert (request["state"], request["amount_due"]) == ("sent", 1000.0), request
    assert_trust_invariants(firm, "1. retainer requested")

    card = _card_method(firm)
    with Chromium(odoo_server.url) as browser:
        _login(browser, login)

        # 2. The client pays 900 of the 1,000, then the 100 left, by card.
        for amount, state, due, in_trust in (
            (900.0, "partial", 100.0, 900.0),
            (100.0, "paid", 0.0, 1000.0),
        ):
            query = _browser_pays_retainer_part(browser, request_id, amount)
            processing = _retainer_transaction(firm, portal, request_id, query, card)
            intent = portal.pay_with_card(processing)
            assert intent["status"] == "succeeded", intent
            wait_for(
                lambda state=state: _request_state(firm, request_id)["state"] == state,
                60,
                message=f"the webhook of the card payment of {amount} to be processed",
            )
            request = _request_state(firm, request_id)
            assert (request["amount_paid"], request["amount_due"]) == (in_trust, due), request
            figures = _matter(firm, matter)
            assert (figures["trust_balance"], figures["trust_available"]) == (
                in_trust,
                in_trust,
            ), figures
            assert_trust_invariants(firm, f"2. {amount} paid by card")
        browser.goto(f"/my/retainers/{request_id}")
        assert "Paid, thank you." in browser.text()

        # 3. Automatic top-ups on; an invoice of 700 paid from trust leaves 300, at the
        # trigger: the top-up request of 500 - 300 goes out by itself.
        firm.env["legal.matter"].write([matter], {"retainer_auto_topup": True})
        invoice_700 = _invoice(firm, partner, matter, 700.0)
        call(firm, "legal.matter", "trust_pay_invoice", [matter], invoice_700)
        (inv,) = firm.env["account.move"].read([invoice_700], ["payment_state"])
        assert inv["payment_state"] in ("paid", "in_payment"), inv
        assert _matter(firm, matter)["trust_available"] == 300.0
        assert_trust_invariants(firm, "3. invoice of 700 paid from trust")
        (topup_id,) = firm.env["legal.retainer.request"].search(
            [("matter_id", "=", matter), ("kind", "=", "topup")]
        )
        topup = _request_state(firm, topup_id)
        assert (topup["state"], topup["amount"]) == ("sent", 200.0), topup
        assert_trust_invariants(firm, "3. top-up requested")

        # 4. The client pays the top-up by ACH (recorded events, see the module docstring).
        ach = _ach_method(firm)
        query = _browser_pays_retainer_part(browser, topup_id, 200.0)
        processing = _retainer_transaction(firm, portal, topup_id, query, ach)
        assert processing["client_secret"].startswith("pi_"), processing
        (tx,) = _transactions(firm, [("legal_retainer_request_id", "=", topup_id)])
        assert tx["payment_method_code"] == "ach_direct_debit", tx
        assert tx["provider_reference"] == processing["client_secret"].split("_secret_")[0], tx
        at_stripe = portal.stripe("GET", f"payment_intents/{tx['provider_reference']}")
        assert at_stripe["amount"] == 20000, at_stripe
        pending = _ach_event(f"evt_story_ach_p_{tx['id']}", tx, "processing")
        assert deliver_event(odoo_server.url, pending) == 200
        wait_for(
            lambda: _transactions(firm, [("id", "=", tx["id"])])[0]["state"] == "pending",
            60,
            message="the ACH processing event to be processed",
        )
        figures = _matter(firm, matter)
        assert (figures["trust_balance"], figures["trust_available"]) == (500.0, 300.0), figures
        assert figures["trust_uncleared"] == 200.0, figures
        topup = _request_state(firm, topup_id)
        # legal_retainers: a bank debit counts as paid while it clears (a failure reopens it)
        assert (topup["state"], topup["amount_due"]) == ("paid", 0.0), topup
        assert_trust_invariants(firm, "4. ACH top-up processing")
        cleared = _ach_event(f"evt_story_ach_s_{tx['id']}", tx, "succeeded")
        assert deliver_event(odoo_server.url, cleared) == 200
        wait_for(
            lambda: _matter(firm, matter)["trust_available"] == 500.0,
            60,
            message="the ACH succeeded event to clear the deposit",
        )
        figures = _matter(firm, matter)
        assert (figures["trust_balance"], figures["trust_uncleared"]) == (500.0, 0.0), figures
        (done,) = firm.env["payment.transaction"].read([tx["id"]], ["state", "legal_fee_state"])
        assert (done["state"], done["legal_fee_state"]) == ("done", "unavailable"), done
        # Stripe's retry of the same event: acknowledged, stored once, nothing credited twice.
        assert deliver_event(odoo_server.url, cleared) == 200
        assert (
            firm.env["legal.stripe.event"].search_count(
                [("stripe_event_id", "in", [pending["id"], cleared["id"]])]
            )
            == 2
        )
        assert_trust_invariants(firm, "4. ACH top-up cleared")

        # 5. The client overpays an invoice of 400: its payment page open in two tabs, both
        # transactions created, then both paid by card.
        invoice_400 = _invoice(firm, partner, matter, 400.0)
        tabs = [_invoice_transaction(firm, portal, invoice_400) for _tab in range(2)]
        intents = [portal.pay_with_card(processing) for processing in tabs]
        assert [i["status"] for i in intents] == ["succeeded", "succeeded"], intents
        pi_ids = [i["id"] for i in intents]
        wait_for(
            lambda: [
                t["state"] for t in _transactions(firm, [("provider_reference", "in", pi_ids)])
            ]
            == ["done", "done"],
            60,
            message="the webhooks of both card payments to be processed",
        )
        (inv,) = firm.env["account.move"].read([invoice_400], ["payment_state", "amount_residual"])
        assert inv["payment_state"] in ("paid", "in_payment") and inv["amount_residual"] == 0.0
        payments = firm.env["account.payment"].search_read(
            [("payment_transaction_id.provider_reference", "in", pi_ids)], ["state", "amount"]
        )
        assert sorted(p["amount"] for p in payments) == [400.0, 400.0], payments
        assert _receivable_residual(firm, partner) == -400.0, "400 of unallocated credit"
        assert_trust_invariants(firm, "5. invoice of 400 overpaid by card")

        # 6. The firm's refund wizard returns the overpayment to the card through Stripe.
        wizard = firm.env["legal.refund.wizard"].create(
            {"partner_id": partner, "method": "provider", "send_advice": False}
        )
        (values,) = firm.env["legal.refund.wizard"].read([wizard], ["line_ids"])
        lines = firm.env["legal.refund.wizard.line"].read(
            values["line_ids"], ["kind", "available", "source_transaction_id"]
        )
        credit = [line for line in lines if line["kind"] == "payment"]
        assert len(credit) == 1 and credit[0]["available"] == 400.0, lines
        assert credit[0]["source_transaction_id"], f"no card payment to refund to: {credit}"
        firm.env["legal.refund.wizard.line"].write(
            [credit[0]["id"]], {"selected": True, "amount": 400.0}
        )
        action = call(firm, "legal.refund.wizard", "action_refund", [wizard])
        (refund,) = firm.env["legal.refund"].read(
            [action["res_id"]], ["state", "amount_total", "payment_ids", "transaction_ids"]
        )
        assert (refund["state"], refund["amount_total"]) == ("done", 400.0), refund
        (source_tx,) = firm.env["payment.transaction"].read(
            [credit[0]["source_transaction_id"][0]], ["provider_reference"]
        )
        stripe_refunds = portal.stripe(
            "GET", "refunds", {"payment_intent": source_tx["provider_reference"]}
        )["data"]
        assert [r["amount"] for r in stripe_refunds] == [40000], stripe_refunds
        refund_payments = firm.env["account.payment"].read(
            refund["payment_ids"], ["state", "amount", "payment_type"]
        )
        assert [(p["amount"], p["payment_type"]) for p in refund_payments] == [
            (400.0, "outbound")
        ], refund_payments
        assert all(p["state"] in ("paid", "in_process") for p in refund_payments), refund_payments
        assert _receivable_residual(firm, partner) == 0.0, "nothing owed, no credit left"
        assert_trust_invariants(firm, "6. overpayment refunded to the card")

        # 7. The client's billing page, the statement (PDF) and the history.
        browser.goto("/my/billing")
        owed = browser.evaluate("document.querySelector('.o_legal_balance_owed').innerText")
        credits = browser.evaluate("document.querySelector('.o_legal_credits_available').innerText")
        assert (_money(owed), _money(credits)) == (0.0, 0.0), (owed, credits)
        trust_rows = browser.evaluate(
            "[...document.querySelectorAll('.o_legal_billing_trust_row')]"
            ".map(r => [...r.cells].map(c => c.innerText))"
        )
        (matter_name,) = firm.env["legal.matter"].read([matter], ["display_name"])
        row = next(r for r in trust_rows if r[0] == matter_name["display_name"])
        assert (_money(row[1]), _money(row[2])) == (500.0, 500.0), trust_rows
        status, content_type, pdf, size = browser.evaluate(
            """(() => {
                const form = document.querySelector('.o_legal_billing_statement form');
                return fetch(form.action, {method: 'POST', body: new FormData(form)})
                    .then(async r => {
                        const bytes = new Uint8Array(await r.arrayBuffer());
                        return [r.status, r.headers.get('content-type') || '',
                                String.fromCharCode(...bytes.slice(0, 5)), bytes.length];
                    });
            })()""",
            await_promise=True,
        )
        assert status == 200, (status, content_type)
        assert content_type.startswith("application/pdf"), content_type
        assert (pdf, size > 1000) == ("%PDF-", True), (pdf, size)
        status, content_type, body = browser.fetch("/my/billing/history")
        assert status == 200 and len(body) > 0
        browser.goto("/my/billing/history")
        rows = browser.evaluate(
            "[...document.querySelectorAll('.o_legal_history_row')]"
            ".map(r => [r.className.replace('o_legal_history_row', '').trim(),"
            " r.cells[r.cells.length - 1].innerText])"
        )
        history = sorted((kind.replace("o_legal_history_", ""), _money(a)) for kind, a in rows)
        for expected in (
            ("trust_deposit", 900.0),
            ("trust_deposit", 100.0),
            ("trust_deposit", 200.0),
            ("invoice", 700.0),
            ("payment", 700.0),
            ("trust_disbursement", 700.0),
            ("invoice", 400.0),
            ("payment", 400.0),
            ("refund", 400.0),
        ):
            assert expected in history, f"{expected} not in the client's history: {history}"
        assert history.count(("payment", 400.0)) == 2, history
