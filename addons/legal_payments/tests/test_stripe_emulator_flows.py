# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Card flows against the Stripe emulator (localstripe, started by the root conftest.py)."""

import os

import stripe

from odoo.tests import tagged

from .. import const
from ..const import STRIPE_API_BASE_PARAM
from .common import LegalPaymentsCommon

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000341"
CARD_3DS = "4000002760003184"


class StripeEmulatorCase(LegalPaymentsCommon):
    """Helpers to pay through the Stripe emulator as Stripe.js and the return route do."""

    stripe_emulator = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.emulator_base = os.environ.get("LEGAL_STRIPE_API_BASE")
        if cls.emulator_base:
            cls.env["ir.config_parameter"].sudo().set_param(
                STRIPE_API_BASE_PARAM, cls.emulator_base
            )

    def setUp(self):
        super().setUp()
        if not self.emulator_base:
            self.fail(
                "the Stripe emulator is not running (LEGAL_STRIPE_API_BASE unset): "
                "run the tests through scripts/test"
            )
        self.sdk = stripe.StripeClient(
            "sk_test_emulator", base_addresses={"api": self.emulator_base}
        )

    def _card(self, number):
        return self.sdk.v1.payment_methods.create(
            {
                "type": "card",
                "card": {
                    "number": number,
                    "exp_month": 12,
                    "exp_year": 2034,
                    "cvc": "123",
                },
            }
        )

    def _customer_pays(self, tx, number):
        """What Stripe.js does in the browser: confirm the intent with the card."""
        processing_values = tx._get_processing_values()
        self.assertTrue(processing_values["client_secret"])
        pi_id = tx.provider_reference
        self.assertTrue(pi_id.startswith("pi_"))
        self.sdk.v1.payment_intents.update(pi_id, {"payment_method": self._card(number).id})
        try:
            self.sdk.v1.payment_intents.confirm(pi_id)
        except stripe.CardError as exc:  # A declined card: the intent records the failure.
            self.assertEqual(number, CARD_DECLINED, exc)
        return pi_id

    def _return_route(self, tx, pi_id):
        """What /payment/stripe/return does, then the status poll."""
        payment_intent = tx.provider_id._stripe_make_request(
            f"payment_intents/{pi_id}", payload={"expand[]": "payment_method"}, method="GET"
        )
        tx._handle_notification_data(
            "stripe",
            {
                "reference": tx.reference,
                "payment_intent": payment_intent,
                "payment_method": payment_intent.get("payment_method"),
            },
        )
        tx._post_process()


@tagged("post_install", "-at_install")
class TestStripeEmulatorCardFlows(StripeEmulatorCase):
    def test_direct_card_payment_pays_the_invoice(self):
        tx = self._invoice_tx()
        pi_id = self._customer_pays(tx, CARD_OK)
        self._return_route(tx, pi_id)
        self.assertEqual(tx.state, "done")
        self.assertEqual(self.invoice.payment_state, "paid")
        self.assertEqual(len(tx.payment_id), 1)
        self.assertIn(tx.legal_fee_state, ("booked", "none"))
        # The status poll again: nothing more is posted.
        tx._post_process()
        self.assertEqual(
            self.env["account.payment"].search_count([("payment_transaction_id", "=", tx.id)]), 1
        )

    def test_declined_card_leaves_the_invoice_unpaid(self):
        tx = self._invoice_tx()
        pi_id = self._customer_pays(tx, CARD_DECLINED)
        self._return_route(tx, pi_id)
        self.assertEqual(tx.state, "error")
        self.assertFalse(tx.payment_id)
        self.assertEqual(self.invoice.payment_state, "not_paid")

    def test_3d_secure_payment_waits_for_authentication(self):
        tx = self._invoice_tx()
        pi_id = self._customer_pays(tx, CARD_3DS)
        self._return_route(tx, pi_id)
        self.assertEqual(tx.state, "draft", "requires_action: nothing is posted yet")
        self.assertFalse(tx.payment_id)
        intent = self.sdk.v1.payment_intents.retrieve(pi_id)
        self.sdk.raw_request(
            "post",
            f"/v1/payment_intents/{pi_id}/_authenticate",
            client_secret=intent.client_secret,
            success="true",
        )
        self._return_route(tx, pi_id)
        self.assertEqual(tx.state, "done")
        self.assertEqual(self.invoice.payment_state, "paid")

    def test_saved_card_pays_off_session(self):
        customer = self.sdk.v1.customers.create({"name": "Client Ann"})
        card = self._card(CARD_OK)
        self.sdk.v1.payment_methods.attach(card.id, {"customer": customer.id})
        token = self.env["payment.token"].create(
            {
                "provider_id": self.stripe.id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "partner_id": self.client_partner.id,
                "payment_details": "4242",
                "provider_ref": customer.id,
                "stripe_payment_method": card.id,
            }
        )
        tx = self._invoice_tx(token_id=token.id, operation="online_token")
        # As the portal's transaction route does for the card's owner, logged in.
        tx.with_context(
            **{const.CLIENT_AT_KEYBOARD_CONTEXT_KEY: const.CLIENT_AT_KEYBOARD_SENTINEL}
        )._send_payment_request()
        tx._post_process()
        self.assertEqual(tx.state, "done")
        self.assertEqual(self.invoice.payment_state, "paid")
