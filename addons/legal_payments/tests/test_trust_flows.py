# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Trust deposits paid online. Fees and ACH come from recorded Stripe-shaped responses: the
Stripe emulator has no balance transactions and no ACH (us_bank_account)."""

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from .common import WEBHOOK_SECRET, LegalPaymentsCommon, recorded_card_payment

TRUST_SECRET = WEBHOOK_SECRET + "_trust"


@tagged("post_install", "-at_install")
class TestTrustDeposits(LegalPaymentsCommon):
    def _balance(self, account):
        lines = self.env["account.move.line"].search(
            [
                ("account_id", "=", account.id),
                ("parent_state", "=", "posted"),
            ]
        )
        return round(sum(lines.mapped("balance")), 2)

    def test_card_deposit_is_credited_to_the_matter_and_the_fee_comes_from_operating(self):
        """docs/accounting.md, entry 5: gross 1,000, fee 29.25."""
        tx = self._deposit_tx(amount=1000.0)
        with self.recorded_stripe(recorded_card_payment(amount=100000, fee=2925)):
            event = self._receive_and_process(
                self._event("payment_intent.succeeded", self._payment_intent(tx)),
                secret=TRUST_SECRET,
            )
        self.assertEqual(event.state, "done")
        self.assertEqual(tx.state, "done")
        self.assertFalse(tx.payment_id, "a trust deposit never goes to receivable")
        self.assertEqual(self.matter.trust_balance, 1000.0)
        self.assertEqual(self.matter.trust_available, 1000.0)
        stc = self.stripe_trust_journal.default_account_id
        tb = self.trust_bank.default_account_id
        ob = self.operating_bank.default_account_id
        self.assertEqual(self._balance(stc), 1000.0 - 29.25)
        self.assertEqual(self._balance(self.fee_account), 29.25)
        self.assertEqual(self._balance(tb), 29.25)
        self.assertEqual(self._balance(ob), -29.25)
        # Never to receivable: the client's open invoice shows no outstanding credit.
        receivable = self.client_partner.property_account_receivable_id
        self.assertEqual(self._balance(receivable), self.invoice.amount_residual)
        self.invoice.invalidate_recordset()
        self.assertFalse(self.invoice.invoice_has_outstanding)

    def test_invoice_cannot_be_paid_through_the_trust_provider(self):
        Tx = self.env["payment.transaction"]
        with self.assertRaises(ValidationError):
            Tx._legal_check_payment_request(
                self.stripe_trust, 100.0, self.currency, self.client_partner, self.invoice
            )

    def test_ach_deposit_is_uncleared_until_it_succeeds(self):
        tx = self._deposit_tx(amount=400.0, reference="ACH-1")
        processing = self._payment_intent(tx, status="processing", pm_type="us_bank_account")
        with self.recorded_stripe(recorded_card_payment(amount=40000, fee=0)):
            self._receive_and_process(
                self._event("payment_intent.processing", processing, event_id="evt_ach_p"),
                secret=TRUST_SECRET,
            )
            self.assertEqual(tx.state, "pending")
            self.matter.invalidate_recordset()
            self.assertEqual(self.matter.trust_balance, 400.0)
            self.assertEqual(self.matter.trust_available, 0.0)
            succeeded = dict(processing, status="succeeded")
            self._receive_and_process(
                self._event("payment_intent.succeeded", succeeded, event_id="evt_ach_s"),
                secret=TRUST_SECRET,
            )
        self.matter.invalidate_recordset()
        self.assertEqual(tx.state, "done")
        self.assertEqual(self.matter.trust_balance, 400.0)
        self.assertEqual(self.matter.trust_available, 400.0)
        self.assertEqual(tx.legal_fee_state, "none")

    def test_failed_ach_deposit_is_reversed_and_the_lawyer_told(self):
        tx = self._deposit_tx(amount=400.0, reference="ACH-2")
        processing = self._payment_intent(tx, status="processing", pm_type="us_bank_account")
        self._receive_and_process(
            self._event("payment_intent.processing", processing, event_id="evt_ach_p2"),
            secret=TRUST_SECRET,
        )
        failed = dict(
            processing,
            status="requires_payment_method",
            last_payment_error={"message": "Insufficient funds"},
        )
        self._receive_and_process(
            self._event("payment_intent.payment_failed", failed, event_id="evt_ach_f2"),
            secret=TRUST_SECRET,
        )
        self.matter.invalidate_recordset()
        self.assertEqual(tx.state, "error")
        self.assertEqual(self.matter.trust_balance, 0.0)
        self.assertEqual(self.matter.trust_available, 0.0)
        mails = (
            self.env["mail.mail"]
            .sudo()
            .search(
                [
                    ("email_to", "ilike", "lawyer@example.com"),
                    ("subject", "ilike", "Bank payment failed"),
                ]
            )
        )
        self.assertEqual(len(mails), 1)
