# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Webhook-driven payment flows. Fees come from recorded Stripe balance transactions: the
Stripe emulator has no balance transactions, ACH, payouts or disputes."""

from unittest.mock import patch

from odoo.tests import tagged

from .common import WEBHOOK_SECRET, LegalPaymentsCommon, recorded_card_payment


@tagged("post_install", "-at_install")
class TestOperatingCardPayment(LegalPaymentsCommon):
    def _mails(self):
        return (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("email_to", "ilike", "lawyer@example.com"),
                    ("subject", "ilike", "Payment received"),
                ]
            )
        )

    def test_succeeded_event_pays_the_invoice_and_books_the_fee(self):
        tx = self._invoice_tx()
        with self.recorded_stripe(recorded_card_payment(amount=50000, fee=1480)):
            event = self._receive_and_process(
                self._event("payment_intent.succeeded", self._payment_intent(tx))
            )
        self.assertEqual(event.state, "done")
        self.assertEqual(tx.state, "done")
        self.assertTrue(tx.is_post_processed)
        self.assertEqual(self.invoice.payment_state, "paid")
        # Dr SOC 500, Cr AR 500.
        soc = self.stripe_operating_journal.default_account_id
        payment_lines = tx.payment_id.move_id.line_ids
        self.assertEqual(payment_lines.filtered(lambda line: line.account_id == soc).debit, 500.0)
        # Dr FE 14.80, Cr SOC 14.80.
        self.assertEqual(tx.legal_fee_state, "booked")
        self.assertAlmostEqual(tx.legal_fee_amount, 14.80)
        fee_lines = tx.legal_fee_move_id.line_ids
        self.assertEqual(tx.legal_fee_move_id.state, "posted")
        self.assertAlmostEqual(
            fee_lines.filtered(lambda line: line.account_id == self.fee_account).debit, 14.80
        )
        self.assertAlmostEqual(
            fee_lines.filtered(lambda line: line.account_id == soc).credit, 14.80
        )
        self.assertFalse(tx.legal_replenish_move_id)
        self.assertEqual(len(self._mails()), 1)

    def test_redelivered_event_and_poll_never_post_twice(self):
        tx = self._invoice_tx()
        with self.recorded_stripe(recorded_card_payment()):
            self._receive_and_process(
                self._event("payment_intent.succeeded", self._payment_intent(tx))
            )
            # Another delivery (new event id) of the same success, the poll, the cron.
            self._receive_and_process(
                self._event(
                    "payment_intent.succeeded", self._payment_intent(tx), event_id="evt_legal_2"
                )
            )
            tx._post_process()
            self.env["payment.transaction"]._cron_post_process()
        payments = self.env["account.payment"].search([("payment_transaction_id", "=", tx.id)])
        self.assertEqual(len(payments), 1)
        fee_moves = self.env["account.move"].search([("ref", "=", f"Stripe fee {tx.reference}")])
        self.assertEqual(len(fee_moves), 1)
        self.assertEqual(len(self._mails()), 1)

    def test_late_processing_event_keeps_the_payment_done(self):
        tx = self._invoice_tx()
        with self.recorded_stripe(recorded_card_payment()):
            self._receive_and_process(
                self._event("payment_intent.succeeded", self._payment_intent(tx))
            )
            self._receive_and_process(
                self._event(
                    "payment_intent.processing",
                    self._payment_intent(tx, status="processing"),
                    event_id="evt_legal_late",
                )
            )
        self.assertEqual(tx.state, "done")
        self.assertEqual(self.invoice.payment_state, "paid")

    def test_refund_received_before_its_success_waits_for_it(self):
        tx = self._invoice_tx()
        charge = {
            "id": "ch_legal_1",
            "object": "charge",
            "description": tx.reference,
            "payment_intent": "pi_legal_1",
            "amount": 50000,
            "status": "succeeded",
            "refunds": {
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "id": "re_legal_1",
                        "object": "refund",
                        "amount": 10000,
                        "status": "succeeded",
                        "charge": "ch_legal_1",
                        "payment_intent": "pi_legal_1",
                        "currency": "usd",
                    }
                ],
            },
        }
        with (
            self.recorded_stripe(recorded_card_payment()),
            patch.object(type(self.env["payment.transaction"]), "_send_refund_request"),
        ):
            refund_event = self._receive_and_process(
                self._event("charge.refunded", charge, event_id="evt_refund")
            )
            self.assertEqual(refund_event.state, "pending")
            self._receive_and_process(
                self._event("payment_intent.succeeded", self._payment_intent(tx))
            )
        self.assertEqual(refund_event.state, "done")
        self.assertTrue(tx.payment_id, "the payment is posted although the refund came first")
        refund_tx = tx.child_transaction_ids.filtered(lambda c: c.operation == "refund")
        self.assertEqual(refund_tx.amount, -100.0)

    def test_fee_not_available_leaves_the_payment_posted(self):
        tx = self._invoice_tx()
        with self.recorded_stripe({}):
            self._receive_and_process(
                self._event("payment_intent.succeeded", self._payment_intent(tx))
            )
        self.assertEqual(self.invoice.payment_state, "paid")
        self.assertEqual(tx.legal_fee_state, "unavailable")

    def test_event_for_an_unknown_payment_is_ignored(self):
        # The transaction's own intent is another one: this intent is not ours.
        tx = self._invoice_tx(provider_reference="pi_created_for_the_transaction")
        pi = dict(self._payment_intent(tx), description="NOT-OURS")
        event = self._receive_and_process(self._event("payment_intent.succeeded", pi))
        self.assertEqual(event.state, "ignored")
        self.assertEqual(tx.state, "draft")

    def test_fee_not_available_at_payment_time_is_booked_by_the_cron(self):
        tx = self._invoice_tx()
        with self.recorded_stripe({}):
            self._receive_and_process(
                self._event("payment_intent.succeeded", self._payment_intent(tx))
            )
        self.assertEqual(tx.legal_fee_state, "unavailable")
        with self.recorded_stripe(recorded_card_payment(amount=50000, fee=1480)):
            self.env["payment.transaction"]._cron_legal_book_missing_fees(auto_commit=False)
        self.assertEqual(tx.legal_fee_state, "booked")
        self.assertAlmostEqual(tx.legal_fee_amount, 14.80)

    def test_event_signed_for_another_stripe_account_is_ignored(self):
        tx = self._invoice_tx()
        event = self._receive_and_process(
            self._event("payment_intent.succeeded", self._payment_intent(tx)),
            secret=WEBHOOK_SECRET + "_trust",
        )
        self.assertEqual(event.state, "ignored")
        self.assertEqual(tx.state, "draft")
