# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Fixtures of the legal_payments tests.

Stripe's answers for balance transactions (fees), ACH, payouts and disputes are recorded,
Stripe-shaped JSON: the Stripe emulator (localstripe) has none of them.
"""

import json
import time
from contextlib import contextmanager
from unittest.mock import patch
from urllib.parse import urlparse

import stripe

from odoo.fields import Command

from odoo.addons.account_payment.tests.common import AccountPaymentCommon
from odoo.addons.payment_stripe.tests.common import StripeCommon

WEBHOOK_SECRET = "whsec_legal_test_secret"


class RecordedStripeHttpClient(stripe.HTTPClient):
    """An HTTP client for the official SDK answering with recorded Stripe responses.

    :param dict responses: ``{(method, path): json_dict}``, e.g.
        ``{("get", "/v1/balance_transactions/txn_1"): {...}}``
    """

    name = "recorded"

    def __init__(self, responses):
        super().__init__()
        self.responses = responses
        self.calls = []

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        path = urlparse(url).path
        self.calls.append((method, path))
        body = self.responses.get((method, path))
        if body is None:
            error = {"error": {"type": "invalid_request_error", "message": f"No such {path}"}}
            return json.dumps(error), 404, {}
        return json.dumps(body), 200, {}

    def close(self):
        pass


def recorded_card_payment(pi_id="pi_legal_1", amount=50000, fee=1480, currency="usd"):
    """Recorded PaymentIntent, Charge and BalanceTransaction of a card payment."""
    charge_id = pi_id.replace("pi_", "ch_")
    bt_id = pi_id.replace("pi_", "txn_")
    return {
        ("get", f"/v1/payment_intents/{pi_id}"): {
            "id": pi_id,
            "object": "payment_intent",
            "amount": amount,
            "currency": currency,
            "status": "succeeded",
            "latest_charge": charge_id,
        },
        ("get", f"/v1/charges/{charge_id}"): {
            "id": charge_id,
            "object": "charge",
            "amount": amount,
            "currency": currency,
            "balance_transaction": bt_id,
            "payment_intent": pi_id,
            "status": "succeeded",
        },
        ("get", f"/v1/balance_transactions/{bt_id}"): {
            "id": bt_id,
            "object": "balance_transaction",
            "amount": amount,
            "currency": currency,
            "fee": fee,
            "net": amount - fee,
            "type": "charge",
            "source": charge_id,
            "status": "pending",
        },
    }


class LegalPaymentsCommon(AccountPaymentCommon, StripeCommon):
    """An operating and a trust Stripe provider, their journals, a client, a matter."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        company = cls.env.company
        cls.currency = company.currency_id
        Journal = cls.env["account.journal"]
        cls.operating_bank = cls.company_data["default_journal_bank"]
        cls.stripe_operating_journal = Journal.create(
            {
                "name": "Stripe Operating",
                "code": "STO",
                "type": "bank",
            }
        )
        cls.trust_bank = Journal.create(
            {
                "name": "Trust Bank",
                "code": "TRB",
                "type": "bank",
                "is_trust_account": True,
            }
        )
        cls.stripe_trust_journal = Journal.create(
            {
                "name": "Stripe Trust",
                "code": "STT",
                "type": "bank",
                "is_trust_account": True,
            }
        )
        cls.fee_account = cls.env["account.account"].create(
            {
                "name": "Card fees",
                "code": "629100",
                "account_type": "expense",
            }
        )
        company.write(
            {
                "legal_card_fee_account_id": cls.fee_account.id,
                "legal_operating_journal_id": cls.operating_bank.id,
            }
        )
        cls.stripe.write(
            {
                "state": "test",
                "journal_id": cls.stripe_operating_journal.id,
                "legal_payout_journal_id": cls.operating_bank.id,
                "stripe_webhook_secret": WEBHOOK_SECRET,
                "available_currency_ids": [Command.set(cls.currency.ids)],
                "payment_method_ids": [
                    Command.set([cls.env.ref("payment.payment_method_card").id])
                ],
            }
        )
        cls.stripe_trust = cls.stripe.copy(
            {
                "name": "Stripe Trust",
                "state": "test",
                "journal_id": cls.stripe_trust_journal.id,
                "legal_payout_journal_id": cls.trust_bank.id,
            }
        )
        cls.stripe_trust.write(
            {
                "stripe_webhook_secret": WEBHOOK_SECRET + "_trust",
                "is_published": True,
                "payment_method_ids": [
                    Command.set([cls.env.ref("payment.payment_method_card").id])
                ],
            }
        )
        cls.stripe.is_published = True
        cls.env.ref("payment.payment_method_card").active = True
        cls.lawyer = cls._create_new_internal_user(login="lawyer", email="lawyer@example.com")
        cls.client_partner = cls.env["res.partner"].create(
            {
                "name": "Client Ann",
                "email": "ann@example.com",
            }
        )
        cls.matter = cls.env["legal.matter"].create(
            {
                "title": "Ann v. Bob",
                "partner_id": cls.client_partner.id,
                "user_id": cls.lawyer.id,
            }
        )
        cls.invoice = cls.init_invoice(
            "out_invoice",
            partner=cls.client_partner,
            amounts=[500.0],
            post=True,
            taxes=[],
            currency=cls.currency,
        )
        cls.invoice.invoice_user_id = cls.lawyer

    # === Helpers === #

    def _invoice_tx(self, invoice=None, amount=None, reference="INV-TX-1", **values):
        invoice = invoice or self.invoice
        return (
            self.env["payment.transaction"]
            .sudo()
            .create(
                {
                    "provider_id": self.stripe.id,
                    "payment_method_id": self.env.ref("payment.payment_method_card").id,
                    "reference": reference,
                    "amount": amount or invoice.amount_residual,
                    "currency_id": invoice.currency_id.id,
                    "partner_id": invoice.partner_id.id,
                    "operation": "online_direct",
                    "invoice_ids": [Command.set(invoice.ids)],
                    **values,
                }
            )
        )

    def _deposit_tx(self, amount=1000.0, reference="TRUST-TX-1", **values):
        return (
            self.env["payment.transaction"]
            .sudo()
            .create(
                {
                    "provider_id": self.stripe_trust.id,
                    "payment_method_id": self.env.ref("payment.payment_method_card").id,
                    "reference": reference,
                    "amount": amount,
                    "currency_id": self.currency.id,
                    "partner_id": self.client_partner.id,
                    "operation": "online_direct",
                    "legal_matter_id": self.matter.id,
                    **values,
                }
            )
        )

    @staticmethod
    def _event(event_type, obj, event_id="evt_legal_1", created=None):
        return {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": created or int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }

    @staticmethod
    def _signed(event, secret=WEBHOOK_SECRET, timestamp=None):
        payload = json.dumps(event)
        header = stripe.WebhookSignature.generate_signature_header(
            payload, secret, timestamp=timestamp
        )
        return payload.encode(), header

    @staticmethod
    def _payment_intent(tx, status="succeeded", pi_id="pi_legal_1", pm_type="card"):
        """A recorded PaymentIntent of ``tx``. Like `_stripe_create_intent`, the transaction
        gets the intent's id when it has none yet: Stripe data of another intent is refused."""
        if not tx.provider_reference:
            tx.provider_reference = pi_id
        return {
            "id": pi_id,
            "object": "payment_intent",
            "description": tx.reference,
            "amount": round(tx.amount * 100),
            "currency": tx.currency_id.name.lower(),
            "status": status,
            "customer": "cus_legal",
            "payment_method": {"id": "pm_legal", "type": pm_type, pm_type: {"brand": "visa"}},
            "latest_charge": pi_id.replace("pi_", "ch_"),
        }

    @contextmanager
    def recorded_stripe(self, responses):
        """Make the SDK clients of every provider answer with recorded responses."""
        client = RecordedStripeHttpClient(responses)

        def _client(provider):
            return stripe.StripeClient(
                "sk_test_recorded",
                base_addresses={"api": "https://api.stripe.test"},
                http_client=client,
            )

        with patch.object(type(self.env["payment.provider"]), "_legal_stripe_client", _client):
            yield client

    def _receive_and_process(self, event, secret=WEBHOOK_SECRET):
        payload, header = self._signed(event, secret=secret)
        status = self.env["legal.stripe.event"].sudo()._legal_receive(payload, header)
        self.assertEqual(status, 200)
        self.env["legal.stripe.event"].sudo()._cron_process_stripe_events(auto_commit=False)
        return self.env["legal.stripe.event"].sudo().search([("stripe_event_id", "=", event["id"])])
