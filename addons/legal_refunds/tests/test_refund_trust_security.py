# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Trust refunds by bank transfer and cheque, the Trust Manager rule, multi-company rules."""

from odoo.exceptions import AccessError, UserError
from odoo.tests import tagged

from .common import LegalRefundsCommon


@tagged("post_install", "-at_install")
class TestRefundTrustSecurity(LegalRefundsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.matter.sudo().trust_deposit(500.0, journal_id=cls.trust_bank.id)
        cls.billing_user = cls._create_new_internal_user(
            login="billing_refunds", groups="account.group_account_invoice"
        )
        cls.trust_manager = cls._create_new_internal_user(
            login="trust_manager_refunds",
            groups="account.group_account_invoice,legal_trust.group_trust_manager",
        )

    def _trust_wizard(self, user, **values):
        return (
            self.env["legal.refund.wizard"]
            .with_user(user)
            .with_context(
                default_matter_id=self.matter.id,
                default_partner_id=self.client_partner.id,
            )
            .create({"method": "bank", "trust_journal_id": self.trust_bank.id, **values})
        )

    def test_trust_balance_refunded_by_bank_transfer_and_matter_closed(self):
        wizard = self._trust_wizard(self.trust_manager, close_matter=True)
        self.assertEqual(wizard.line_ids.filtered("selected").amount, 500.0)
        refund = self.env["legal.refund"].browse(wizard.action_refund()["res_id"])
        self.assertEqual(refund.state, "done")
        move = refund.line_ids.trust_move_id
        self.assertEqual(move.journal_id, self.trust_bank)
        self.assertEqual(move.line_ids.filtered("matter_id").debit, 500.0)
        bank_line = move.line_ids.filtered(lambda rec: not rec.matter_id)
        self.assertEqual(bank_line.partner_id, self.client_partner, "the client is the payee")
        self.assertEqual(self.matter.trust_balance, 0.0)
        self.assertEqual(self.matter.state, "closed")
        self.assertTrue(self.matter.message_ids.filtered(lambda m: refund.name in (m.body or "")))

    def test_trust_cheque_refund_names_the_cheque(self):
        wizard = self._trust_wizard(self.trust_manager, method="cheque", cheque_number="778")
        wizard.line_ids.filtered("selected").amount = 120.0
        refund = self.env["legal.refund"].browse(wizard.action_refund()["res_id"])
        self.assertIn("778", refund.line_ids.trust_move_id.ref)
        self.assertEqual(self.matter.trust_available, 380.0)

    def test_only_trust_managers_refund_trust_money(self):
        wizard = self._trust_wizard(self.billing_user)
        self.assertFalse(wizard.line_ids, "the trust balance is not even listed")
        refund = (
            self.env["legal.refund"]
            .with_user(self.billing_user)
            .create(
                {
                    "partner_id": self.client_partner.id,
                    "method": "bank",
                    "line_ids": [
                        (0, 0, {"kind": "trust", "amount": 100.0, "matter_id": self.matter.id})
                    ],
                }
            )
        )
        with self.assertRefused(AccessError, "Trust Manager"):
            refund.action_confirm()
        self.assertEqual(refund.state, "draft")
        self.assertFalse(refund.line_ids.trust_move_id)
        self.assertEqual(self.matter.trust_available, 500.0)

    def test_more_trust_money_than_available_is_refused(self):
        refund = (
            self.env["legal.refund"]
            .with_user(self.trust_manager)
            .create(
                {
                    "partner_id": self.client_partner.id,
                    "method": "bank",
                    "line_ids": [
                        (0, 0, {"kind": "trust", "amount": 500.01, "matter_id": self.matter.id})
                    ],
                }
            )
        )
        with self.assertRefused(UserError, "500.00 can still be refunded"):
            refund.action_confirm()
        self.assertEqual(self.matter.trust_available, 500.0)

    def test_refunds_of_another_company_are_invisible(self):
        credit_note = self._credit_note(100.0)
        wizard = self._wizard(method="bank")
        self._select(wizard, credit_note, 100.0)
        refund = self.env["legal.refund"].browse(wizard.action_refund()["res_id"])
        other_company = self.env["res.company"].create({"name": "Other Firm"})
        outsider = self._create_new_internal_user(
            login="other_firm_billing",
            groups="account.group_account_invoice",
            company_id=other_company.id,
            company_ids=[(6, 0, other_company.ids)],
        )
        Refund = self.env["legal.refund"].with_user(outsider)
        self.assertFalse(Refund.search([("id", "=", refund.id)]))
        with self.assertRaises(AccessError):
            Refund.browse(refund.id).read(["name"])
        Line = self.env["legal.refund.line"].with_user(outsider)
        self.assertFalse(Line.search([("refund_id", "=", refund.id)]))
