# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Payouts and disputes with recorded Stripe-shaped objects: the Stripe emulator has neither
payouts, disputes nor balance transactions."""

import time

from odoo.tests import tagged

from .common import WEBHOOK_SECRET, LegalPaymentsCommon, recorded_card_payment

TRUST_SECRET = WEBHOOK_SECRET + "_trust"


def recorded_dispute(pi_id, amount, fee=1500, dispute_id="dp_legal_1"):
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": amount,
        "currency": "usd",
        "charge": pi_id.replace("pi_", "ch_"),
        "payment_intent": pi_id,
        "reason": "fraudulent",
        "status": "needs_response",
        "balance_transactions": [
            {
                "id": "txn_dispute_1",
                "object": "balance_transaction",
                "amount": -amount,
                "fee": fee,
                "net": -amount - fee,
                "type": "adjustment",
                "currency": "usd",
            }
        ],
    }


def recorded_payout(amount, payout_id="po_legal_1"):
    return {
        "id": payout_id,
        "object": "payout",
        "amount": amount,
        "currency": "usd",
        "arrival_date": int(time.time()),
        "status": "paid",
        "type": "bank_account",
    }


@tagged("post_install", "-at_install")
class TestDisputesAndPayouts(LegalPaymentsCommon):
    def _balance(self, account):
        lines = self.env["account.move.line"].search(
            [
                ("account_id", "=", account.id),
                ("parent_state", "=", "posted"),
            ]
        )
        return round(sum(lines.mapped("balance")), 2)

    def _pay_deposit(self, amount=1000.0, fee=2925, reference="TRUST-TX-1", pi_id="pi_legal_1"):
        tx = self._deposit_tx(amount=amount, reference=reference)
        with self.recorded_stripe(
            recorded_card_payment(pi_id=pi_id, amount=round(amount * 100), fee=fee)
        ):
            self._receive_and_process(
                self._event(
                    "payment_intent.succeeded",
                    self._payment_intent(tx, pi_id=pi_id),
                    event_id=f"evt_{reference}",
                ),
                secret=TRUST_SECRET,
            )
        return tx

    def test_trust_payout_empties_the_clearing_account(self):
        """docs/accounting.md, entry 5 end to end: STC 0, TB 1,000, ledger 1,000, FE 29.25."""
        self._pay_deposit()
        event = self._receive_and_process(
            self._event("payout.paid", recorded_payout(97075), event_id="evt_po_1"),
            secret=TRUST_SECRET,
        )
        self.assertEqual(event.state, "done")
        self.assertEqual(self._balance(self.stripe_trust_journal.default_account_id), 0.0)
        self.assertEqual(self._balance(self.trust_bank.default_account_id), 1000.0)
        self.assertEqual(self._balance(self.fee_account), 29.25)
        self.assertEqual(self._balance(self.operating_bank.default_account_id), -29.25)
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_balance, 1000.0)
        # The same payout again books nothing.
        self._receive_and_process(
            self._event("payout.paid", recorded_payout(97075), event_id="evt_po_1_bis"),
            secret=TRUST_SECRET,
        )
        self.assertEqual(self._balance(self.trust_bank.default_account_id), 1000.0)

    def test_operating_payout_matches_the_bank_line(self):
        """docs/accounting.md, entry 6: gross 500, fee 14.80, payout 485.20."""
        tx = self._invoice_tx()
        with self.recorded_stripe(recorded_card_payment(amount=50000, fee=1480)):
            self._receive_and_process(
                self._event("payment_intent.succeeded", self._payment_intent(tx))
            )
        before = self._balance(self.operating_bank.default_account_id)
        self._receive_and_process(
            self._event("payout.paid", recorded_payout(48520), event_id="evt_po_2")
        )
        self.assertEqual(self._balance(self.stripe_operating_journal.default_account_id), 0.0)
        self.assertEqual(
            round(self._balance(self.operating_bank.default_account_id) - before, 2), 485.20
        )

    def test_dispute_on_a_covered_trust_deposit_takes_the_clients_money_and_the_fee_from_operating(
        self,
    ):
        tx = self._pay_deposit()
        event = self._receive_and_process(
            self._event(
                "charge.dispute.created",
                recorded_dispute("pi_legal_1", 100000),
                event_id="evt_dp_1",
            ),
            secret=TRUST_SECRET,
        )
        self.assertEqual(event.state, "done")
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_balance, 0.0)
        self.assertTrue(self.matter.legal_dispute_flag)
        # Stripe took 1,015 from STC; the client's 1,000 and the firm's 15 fee.
        self.assertEqual(self._balance(self.fee_account), 29.25 + 15.0)
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("email_to", "ilike", "lawyer@example.com"),
                    ("subject", "ilike", "disputed"),
                ]
            )
        )
        self.assertEqual(len(mails), 1)
        self.assertTrue(tx.legal_dispute_move_id)

    def test_dispute_beyond_the_clients_trust_funds_never_uses_other_clients_money(self):
        other_client = self.env["res.partner"].create({"name": "Other Client"})
        other_matter = self.env["legal.matter"].create(
            {
                "title": "Other matter",
                "partner_id": other_client.id,
                "user_id": self.lawyer.id,
            }
        )
        other_matter.trust_deposit(5000.0, journal_id=self.trust_bank.id)
        self._pay_deposit()
        # The client spent 600 of the 1,000 meanwhile.
        self.matter.trust_disburse(600.0, self.partner.id, journal_id=self.trust_bank.id)
        self._receive_and_process(
            self._event(
                "charge.dispute.created",
                recorded_dispute("pi_legal_1", 100000),
                event_id="evt_dp_2",
            ),
            secret=TRUST_SECRET,
        )
        self.matter.invalidate_recordset()
        other_matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_balance, 0.0)
        self.assertEqual(other_matter.trust_balance, 5000.0)
        receivable = self.client_partner.property_account_receivable_id
        # The 600 no longer in trust is owed by the client; the invoice's 500 is unrelated.
        self.assertEqual(self._balance(receivable), 500.0 + 600.0)

    def test_dispute_on_an_invoice_payment_reopens_the_invoice(self):
        tx = self._invoice_tx()
        with self.recorded_stripe(recorded_card_payment(amount=50000, fee=1480)):
            self._receive_and_process(
                self._event("payment_intent.succeeded", self._payment_intent(tx))
            )
        self.assertEqual(self.invoice.payment_state, "paid")
        self._receive_and_process(
            self._event(
                "charge.dispute.created", recorded_dispute("pi_legal_1", 50000), event_id="evt_dp_3"
            )
        )
        self.invoice.invalidate_recordset()
        self.assertEqual(self.invoice.payment_state, "not_paid")
        self.assertEqual(self.invoice.amount_residual, 500.0)
