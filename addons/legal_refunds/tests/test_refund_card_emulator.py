# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Card refunds against the Stripe emulator (localstripe, started by the root conftest.py)."""

from odoo.exceptions import UserError
from odoo.tests import tagged

from odoo.addons.legal_payments.tests.test_stripe_emulator_flows import (
    CARD_OK,
    StripeEmulatorCase,
)

from .common import LegalRefundsCommon


class RolledBack(Exception):
    """Raised to roll a savepoint back, as a failed database transaction would be."""


@tagged("post_install", "-at_install")
class TestRefundCardEmulator(LegalRefundsCommon, StripeEmulatorCase):
    def _pay_by_card(self, tx):
        """What Stripe.js and the return route do: confirm the intent with a card, then
        process the PaymentIntent."""
        pi_id = self._customer_pays(tx, CARD_OK)
        self._return_route(tx, pi_id)
        self.assertEqual(tx.state, "done")
        return pi_id

    def _emulator_refunds(self, pi_id):
        return self.sdk.v1.refunds.list({"payment_intent": pi_id}).data

    def test_partial_and_repeated_card_refunds_up_to_the_payment(self):
        tx = self._invoice_tx()
        pi_id = self._pay_by_card(tx)
        self.assertEqual(self.invoice.payment_state, "paid")
        credit_note = self._credit_note(500.0, invoice=self.invoice)
        for amount in (200.0, 300.0):
            wizard = self._wizard(method="provider")
            line = self._select(wizard, credit_note, amount)
            self.assertEqual(line.source_transaction_id, tx)
            refund = self.env["legal.refund"].browse(wizard.action_refund()["res_id"])
            self.assertEqual(refund.state, "done")
        refunds = self._emulator_refunds(pi_id)
        self.assertEqual(sorted(r.amount for r in refunds), [20000, 30000])
        self.assertEqual(
            set(tx.child_transaction_ids.mapped("provider_reference")), {r.id for r in refunds}
        )
        self.assertEqual(credit_note.payment_state, "paid")
        self.assertEqual(self._client_receivable_balance(), 0.0, "nothing owed either way")
        self.assertEqual(tx._legal_refundable_amount(), 0.0)
        # Nothing left to refund on the payment: a further card refund is refused.
        extra = self._manual_payment(10.0)
        refund = self.env["legal.refund"].create(
            {
                "partner_id": self.client_partner.id,
                "method": "provider",
                "line_ids": [
                    (
                        0,
                        0,
                        {
                            "kind": "payment",
                            "amount": 10.0,
                            "source_line_id": self._receivable_line(extra.move_id).id,
                            "source_transaction_id": tx.id,
                        },
                    )
                ],
            }
        )
        with self.assertRefused(UserError, "at most"):
            refund.action_confirm()
        self.assertEqual(len(self._emulator_refunds(pi_id)), 2)

    def test_a_retried_refund_request_never_refunds_twice(self):
        tx = self._invoice_tx()
        pi_id = self._pay_by_card(tx)
        credit_note = self._credit_note(200.0, invoice=self.invoice)
        wizard = self._wizard(method="provider")
        self._select(wizard, credit_note, 200.0)
        # First attempt: Stripe refunds, then the database transaction fails (e.g. a
        # serialization failure) and everything Odoo wrote is rolled back.
        with self.assertRaises(RolledBack):
            with self.env.cr.savepoint():
                wizard.action_refund()
                first = self.env["legal.refund"].search(
                    [("idempotency_key", "=", wizard.idempotency_key)]
                )
                first_refund_id = first.line_ids.transaction_id.provider_reference
                raise RolledBack()
        self.env.invalidate_all()
        self.assertFalse(tx.child_transaction_ids)
        self.assertEqual(credit_note.amount_residual, 200.0)
        # The retry sends the same idempotency key: Stripe answers with the first refund.
        refund = self.env["legal.refund"].browse(wizard.action_refund()["res_id"])
        self.assertEqual(refund.line_ids.transaction_id.provider_reference, first_refund_id)
        refunds = self._emulator_refunds(pi_id)
        self.assertEqual(len(refunds), 1, "one refund at Stripe")
        self.assertEqual(refunds[0].amount, 20000)
        self.assertEqual(credit_note.payment_state, "paid")

    def test_trust_deposit_refunded_to_the_card_through_the_gate(self):
        tx = self._deposit_tx(amount=1000.0)
        pi_id = self._pay_by_card(tx)
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, 1000.0)
        action = self.matter.action_legal_refund()
        wizard = (
            self.env["legal.refund.wizard"]
            .with_context(**action["context"])
            .create({"method": "provider"})
        )
        line = self._select(wizard, self.matter, 400.0)
        self.assertEqual(line.source_transaction_id, tx)
        refund = self.env["legal.refund"].browse(wizard.action_refund()["res_id"])
        self.assertEqual(refund.state, "done")
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, 600.0)
        trust_move = refund.line_ids.trust_move_id
        ledger = trust_move.line_ids.filtered("matter_id")
        self.assertEqual(ledger.debit, 400.0, "Dr trust liability (client, matter)")
        clearing = trust_move.line_ids - ledger
        self.assertEqual(
            clearing.account_id,
            self.stripe_trust_journal.default_account_id,
            "Cr Stripe trust clearing",
        )
        self.assertFalse(refund.line_ids.transaction_id.payment_id, "no receivable entry")
        self.assertEqual([r.amount for r in self._emulator_refunds(pi_id)], [40000])
        # More than the matter holds is refused and nothing leaves.
        refund = self.env["legal.refund"].create(
            {
                "partner_id": self.client_partner.id,
                "method": "provider",
                "matter_id": self.matter.id,
                "line_ids": [
                    (0, 0, {"kind": "trust", "amount": 600.01, "matter_id": self.matter.id})
                ],
            }
        )
        with self.assertRefused(UserError, "at most|can still be refunded"):
            refund.action_confirm()
        self.assertEqual(len(self._emulator_refunds(pi_id)), 1)
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, 600.0)
