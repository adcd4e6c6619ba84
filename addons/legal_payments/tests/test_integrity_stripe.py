# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Forged Stripe data: what the browser or an event says is checked against what the server
created (the intent's id, amount, currency and mode) before anything is booked.

The attacks use real intents of the Stripe emulator, confirmed with a test card, and the
public return and webhook routes over HTTP.
"""

from urllib.parse import urlencode

from odoo.tests import tagged

from odoo.addons.payment.tests.http_common import PaymentHttpCommon

from .test_stripe_emulator_flows import CARD_OK, StripeEmulatorCase

TX_LOGGER = "odoo.addons.legal_payments.models.payment_transaction"


@tagged("post_install", "-at_install")
class TestForgedStripeData(StripeEmulatorCase, PaymentHttpCommon):
    # === Helpers === #

    def _paid_intent(self, amount_minor, currency="usd"):
        """A PaymentIntent of the emulator, confirmed with a card: what a client gets by
        paying a small amount, or an intent that was never created for the transaction."""
        intent = self.sdk.v1.payment_intents.create(
            {
                "amount": amount_minor,
                "currency": currency,
                "payment_method": self._card(CARD_OK).id,
            }
        )
        self.sdk.v1.payment_intents.confirm(intent.id)
        self.assertEqual(self.sdk.v1.payment_intents.retrieve(intent.id).status, "succeeded")
        return intent.id

    def _open_return(self, tx, pi_id):
        """What the client's browser does: open the public return URL with the reference of
        ``tx`` and the id of the intent ``pi_id``."""
        query = urlencode({"reference": tx.reference, "payment_intent": pi_id})
        response = self.url_open(f"/payment/stripe/return?{query}")
        self.assertEqual(response.status_code, 200)
        tx.invalidate_recordset()
        return response

    def _money_state(self):
        """Everything a forged payment would change."""
        self.matter.invalidate_recordset()
        self.invoice.invalidate_recordset()
        return {
            "trust_balance": self.matter.trust_balance,
            "moves": self.env["account.move"].search_count([]),
            "payments": self.env["account.payment"].search_count([]),
            "invoice_residual": self.invoice.amount_residual,
        }

    def _assert_refused(self, tx, before, state="draft"):
        self.assertEqual(tx.state, state, "the transaction is left as it was")
        self.assertFalse(tx.legal_trust_move_id)
        self.assertFalse(tx.payment_id)
        self.assertEqual(self._money_state(), before, "nothing is booked")
        document = tx.legal_matter_id or tx.invoice_ids
        self.assertTrue(
            document.message_ids.filtered(lambda m: "Payment data refused" in (m.body or "")),
            "the firm is told on the matter or invoice",
        )

    # === Tests === #

    def test_return_with_a_small_paid_intent_does_not_credit_a_large_trust_deposit(self):
        big = self._deposit_tx(amount=100000.0, reference="TRUST-BIG")
        big._get_processing_values()  # The intent of 100,000 is created for it.
        self.assertTrue(big.provider_reference.startswith("pi_"))
        small = self._deposit_tx(amount=1.0, reference="TRUST-SMALL")
        small_pi = self._customer_pays(small, CARD_OK)
        before = self._money_state()
        with self.assertLogs(TX_LOGGER, "ERROR") as logs:
            self._open_return(big, small_pi)
        self.assertIn("TRUST-BIG", logs.output[0])
        self.assertIn(small_pi, logs.output[0])
        self._assert_refused(big, before)
        self.assertEqual(self._money_state()["trust_balance"], 0.0)
        # The same route with the small payment's own reference: credited, 1.00 only.
        self._open_return(small, small_pi)
        self.assertEqual(small.state, "done")
        small._post_process()
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_balance, 1.0)
        self.assertEqual(big.state, "draft")

    def test_return_with_a_small_paid_intent_does_not_pay_an_invoice(self):
        tx = self._invoice_tx()  # 500.00
        tx._get_processing_values()
        small_pi = self._paid_intent(100)
        before = self._money_state()
        with self.assertLogs(TX_LOGGER, "ERROR"):
            self._open_return(tx, small_pi)
        self._assert_refused(tx, before)
        self.assertEqual(self.invoice.payment_state, "not_paid")

    def test_intent_of_the_transaction_for_another_amount_is_refused(self):
        # Even with the id the transaction recorded, Stripe's amount must be the transaction's.
        small_pi = self._paid_intent(100)
        tx = self._invoice_tx(provider_reference=small_pi)
        before = self._money_state()
        with self.assertLogs(TX_LOGGER, "ERROR") as logs:
            self._open_return(tx, small_pi)
        self.assertIn("amount", logs.output[0])
        self._assert_refused(tx, before)

    def test_intent_in_another_currency_is_refused(self):
        # 500.00 of another currency, same minor units, recorded as the transaction's intent.
        eur_pi = self._paid_intent(50000, currency="eur")
        tx = self._invoice_tx(provider_reference=eur_pi)
        before = self._money_state()
        with self.assertLogs(TX_LOGGER, "ERROR") as logs:
            self._open_return(tx, eur_pi)
        self.assertIn("currency EUR", logs.output[0])
        self._assert_refused(tx, before)
        # The same amount in another currency through another intent: refused as well.
        other = self._invoice_tx(reference="INV-TX-2")
        other._get_processing_values()
        with self.assertLogs(TX_LOGGER, "ERROR"):
            self._open_return(other, eur_pi)
        self._assert_refused(other, before)

    def test_webhook_event_carrying_another_intent_is_refused(self):
        big = self._deposit_tx(amount=100000.0, reference="TRUST-BIG")
        big._get_processing_values()
        small_pi = self._paid_intent(100)
        intent = self.sdk.v1.payment_intents.retrieve(small_pi).to_dict()
        intent["description"] = big.reference  # As if it were the deposit's intent.
        event = self._event("payment_intent.succeeded", intent, event_id="evt_forged_1")
        payload, header = self._signed(event, secret=self.stripe_trust.stripe_webhook_secret)
        before = self._money_state()
        response = self.url_open(
            "/payment/stripe/webhook",
            data=payload,
            headers={"Content-Type": "application/json", "Stripe-Signature": header},
        )
        self.assertEqual(response.status_code, 200)
        with self.assertLogs(TX_LOGGER, "ERROR"):
            self.env["legal.stripe.event"].sudo()._cron_process_stripe_events(auto_commit=False)
        stored = (
            self.env["legal.stripe.event"].sudo().search([("stripe_event_id", "=", "evt_forged_1")])
        )
        self.assertEqual(stored.state, "error")
        self.assertIn("Refused", stored.state_message)
        self.assertEqual(stored.transaction_id, big)
        big.invalidate_recordset()
        self._assert_refused(big, before)
        # The intent created for the deposit, once paid, is accepted by the same route.
        self.sdk.v1.payment_intents.update(
            big.provider_reference, {"payment_method": self._card(CARD_OK).id}
        )
        self.sdk.v1.payment_intents.confirm(big.provider_reference)
        intent = self.sdk.v1.payment_intents.retrieve(big.provider_reference).to_dict()
        intent["description"] = big.reference
        self._receive_and_process(
            self._event("payment_intent.succeeded", intent, event_id="evt_genuine_1"),
            secret=self.stripe_trust.stripe_webhook_secret,
        )
        self.assertEqual(big.state, "done")
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_balance, 100000.0)
