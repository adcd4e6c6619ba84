from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import LegalTrustCommon


@tagged("post_install", "-at_install")
class TestTrustPaysInvoice(LegalTrustCommon):
    def test_trust_pays_the_invoice_in_full(self):
        self.matter_a.trust_deposit(1000.0)
        invoice = self._invoice(self.matter_a, 700.0)
        trust_move_id, operating_move_id = self.matter_a.trust_pay_invoice(invoice.id)
        self.assertEqual(invoice.payment_state, "paid")
        self.assertEqual(self.matter_a.trust_balance, 300.0)
        trust_move = self.env["account.move"].browse(trust_move_id)
        operating_move = self.env["account.move"].browse(operating_move_id)
        self.assertTrue(trust_move.journal_id.is_trust_account)
        self.assertFalse(operating_move.journal_id.is_trust_account)
        bank_line = operating_move.line_ids.filtered(
            lambda line: line.account_id == operating_move.journal_id.default_account_id
        )
        self.assertEqual(bank_line.debit, 700.0)
        # The client's receivable shows nothing owed.
        receivable = self.env["account.move.line"].search(
            [
                ("partner_id", "=", self.client_a.id),
                ("account_type", "=", "asset_receivable"),
                ("parent_state", "=", "posted"),
            ]
        )
        self.assertEqual(sum(receivable.mapped("amount_residual")), 0.0)

    def test_partial_payment_leaves_the_invoice_partially_paid(self):
        self.matter_a.trust_deposit(200.0)
        invoice = self._invoice(self.matter_a, 700.0)
        self.matter_a.trust_pay_invoice(invoice.id, amount=200.0)
        self.assertEqual(invoice.payment_state, "partial")
        self.assertEqual(invoice.amount_residual, 500.0)
        self.assertEqual(self.matter_a.trust_available, 0.0)

    def test_not_enough_trust_money_pays_nothing(self):
        self.matter_a.trust_deposit(100.0)
        invoice = self._invoice(self.matter_a, 700.0)
        with self.assertRefused(ValidationError, "overdraft"):
            self.matter_a.trust_pay_invoice(invoice.id)
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertEqual(self.matter_a.trust_balance, 100.0)

    def test_only_this_matters_posted_invoices_up_to_their_residual(self):
        self.matter_a.trust_deposit(1000.0)
        invoice = self._invoice(self.matter_a, 300.0)
        with self.assertRefused(UserError, "too much"):
            self.matter_a.trust_pay_invoice(invoice.id, amount=300.01)
        other_client = self._invoice(self.matter_b, 50.0)
        with self.assertRefused(UserError, "not an invoice of"):
            self.matter_a.trust_pay_invoice(other_client.id)
        other_matter = self._invoice(self.matter_a2, 50.0)
        with self.assertRefused(UserError, "not an invoice of"):
            self.matter_a.trust_pay_invoice(other_matter.id)
        draft = self._invoice(self.matter_a, 50.0, post=False)
        with self.assertRefused(UserError, "posted customer invoice"):
            self.matter_a.trust_pay_invoice(draft.id)
        self.assertEqual(self.matter_a.trust_balance, 1000.0)
