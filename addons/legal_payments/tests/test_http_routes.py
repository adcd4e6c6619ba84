# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from unittest.mock import patch

from odoo.tests import JsonRpcException, tagged
from odoo.tools import mute_logger

from odoo.addons.payment.tests.http_common import PaymentHttpCommon

from .. import const
from .common import LegalPaymentsCommon


@tagged("post_install", "-at_install")
class TestHttpRoutes(LegalPaymentsCommon, PaymentHttpCommon):
    def _post_webhook(self, payload, header):
        headers = {"Content-Type": "application/json"}
        if header:
            headers["Stripe-Signature"] = header
        return self.url_open("/payment/stripe/webhook", data=payload, headers=headers)

    def test_webhook_route_stores_a_signed_event_and_refuses_a_bad_one(self):
        tx = self._invoice_tx()
        event = self._event("payment_intent.succeeded", self._payment_intent(tx))
        payload, header = self._signed(event)
        with mute_logger("odoo.addons.legal_payments.models.legal_stripe_event"):
            bad = self._post_webhook(payload, self._signed(event, secret="whsec_bad")[1])
            unsigned = self._post_webhook(payload, None)
        self.assertEqual(bad.status_code, 400)
        self.assertEqual(unsigned.status_code, 400)
        response = self._post_webhook(payload, header)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json(), {"received": True})
        events = (
            self.env["legal.stripe.event"].sudo().search([("stripe_event_id", "=", event["id"])])
        )
        self.assertEqual(len(events), 1)
        self.assertEqual(events.state, "pending", "acknowledged at once, processed by the cron")

    def test_webhook_route_fails_closed_without_secret(self):
        self.env["payment.provider"].sudo().search(
            [("code", "=", "stripe")]
        ).stripe_webhook_secret = False
        tx = self._invoice_tx()
        payload, header = self._signed(
            self._event("payment_intent.succeeded", self._payment_intent(tx))
        )
        with mute_logger("odoo.addons.legal_payments.models.legal_stripe_event"):
            response = self._post_webhook(payload, header)
        self.assertEqual(response.status_code, 503)
        self.assertFalse(self.env["legal.stripe.event"].sudo().search_count([]))

    def _invoice_tx_route(self, amount, provider=None):
        url = self._build_url(f"/invoice/transaction/{self.invoice.id}")
        return self.make_jsonrpc_request(
            url,
            {
                "provider_id": (provider or self.stripe).id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "token_id": None,
                "amount": amount,
                "flow": "direct",
                "tokenization_requested": False,
                "landing_route": self.invoice.get_portal_url(),
                "access_token": self.invoice._portal_ensure_token(),
            },
        )

    @mute_logger("odoo.http")
    def test_tampered_invoice_payments_are_refused_and_create_nothing(self):
        Tx = self.env["payment.transaction"].sudo()
        before = Tx.search_count([])
        for amount, provider in ((500.01, None), (5000.0, None), (100.0, self.stripe_trust)):
            with self.assertRaises(JsonRpcException, msg="odoo.exceptions.ValidationError"):
                self._invoice_tx_route(amount, provider)
        self.assertEqual(Tx.search_count([]), before)

    def test_portal_invoice_with_access_token_shows_pay_now(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", True
        )
        response = self.url_open(self.invoice.get_portal_url())
        self.assertEqual(response.status_code, 200)
        self.assertIn("Pay Now", response.text)

    def test_portal_matter_deposit_opens_the_payment_form_with_trust_providers_only(self):
        self.matter._portal_ensure_token()
        response = self.url_open(
            f"/my/matters/{self.matter.id}/deposit?amount=250"
            f"&access_token={self.matter.access_token}"
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn(f"/legal/trust/transaction/{self.matter.id}", response.text)
        self.assertIn(f'data-provider-id="{self.stripe_trust.id}"', response.text)
        self.assertNotIn(f'data-provider-id="{self.stripe.id}"', response.text)

    def _deposit_route(self, amount, token_amount=None):
        url = self._build_url(f"/legal/trust/transaction/{self.matter.id}")
        return self.make_jsonrpc_request(
            url,
            {
                "provider_id": self.stripe_trust.id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "token_id": None,
                "amount": amount,
                "flow": "direct",
                "tokenization_requested": False,
                "landing_route": self.matter.get_portal_url(),
                "access_token": self._generate_test_access_token(
                    self.client_partner.id,
                    token_amount or amount,
                    self.currency.id,
                    const.TOKEN_PURPOSE_TRUST_DEPOSIT,
                    self.matter.id,
                ),
            },
        )

    @mute_logger("odoo.http")
    def test_deposit_route_creates_a_trust_transaction_and_refuses_a_tampered_amount(self):
        Tx = self.env["payment.transaction"].sudo()
        with self.assertRaises(JsonRpcException, msg="odoo.exceptions.ValidationError"):
            self._deposit_route(900.0, token_amount=250.0)
        self.assertFalse(Tx.search_count([("legal_matter_id", "=", self.matter.id)]))
        fake_intent = {"id": "pi_deposit", "client_secret": "pi_deposit_secret"}
        with patch.object(type(Tx), "_stripe_create_intent", return_value=fake_intent):
            self._deposit_route(250.0)
        tx = Tx.search([("legal_matter_id", "=", self.matter.id)])
        self.assertEqual(len(tx), 1)
        self.assertEqual((tx.amount, tx.provider_id), (250.0, self.stripe_trust))
