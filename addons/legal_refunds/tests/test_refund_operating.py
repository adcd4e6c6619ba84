# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Operating credits (credit notes, overpayments) refunded by bank transfer, cheque and card
(recorded Stripe refund responses here; the emulator flows are in test_refund_card_emulator)."""

from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import LegalRefundsCommon


@tagged("post_install", "-at_install")
class TestRefundOperating(LegalRefundsCommon):
    def test_wizard_lists_every_amount_owed_to_the_client(self):
        credit_note = self._credit_note(300.0)
        overpayment = self._manual_payment(80.0)
        self.matter.sudo().trust_deposit(250.0, journal_id=self.trust_bank.id)
        wizard = self._wizard()
        by_kind = {line.kind: line for line in wizard.line_ids}
        self.assertEqual(set(by_kind), {"credit_note", "payment", "trust"})
        self.assertEqual(by_kind["credit_note"].source_line_id.move_id, credit_note)
        self.assertEqual(by_kind["credit_note"].available, 300.0)
        self.assertEqual(by_kind["payment"].source_line_id.move_id, overpayment.move_id)
        self.assertEqual(by_kind["payment"].available, 80.0)
        self.assertEqual(by_kind["trust"].matter_id, self.matter)
        self.assertEqual(by_kind["trust"].available, 250.0)
        self.assertFalse(wizard.line_ids.filtered("selected"), "nothing selected by default")

    def test_matter_wizard_selects_its_trust_balance(self):
        self.matter.sudo().trust_deposit(250.0, journal_id=self.trust_bank.id)
        action = self.matter.action_legal_refund()
        wizard = self.env["legal.refund.wizard"].with_context(**action["context"]).create({})
        self.assertEqual(wizard.partner_id, self.client_partner)
        trust = wizard.line_ids.filtered(lambda rec: rec.kind == "trust")
        self.assertTrue(trust.selected)
        self.assertEqual(trust.amount, 250.0)

    def test_bank_transfer_refunds_part_of_a_credit_note_and_reconciles_it(self):
        credit_note = self._credit_note(300.0)
        wizard = self._wizard(method="bank")
        self._select(wizard, credit_note, 120.0)
        action = wizard.action_refund()
        refund = self.env["legal.refund"].browse(action["res_id"])
        self.assertEqual(refund.state, "done")
        payment = refund.line_ids.payment_id
        self.assertEqual(payment.payment_type, "outbound")
        self.assertEqual(payment.journal_id, self.operating_bank)
        self.assertEqual(payment.amount, 120.0)
        self.assertEqual(credit_note.amount_residual, 180.0)
        self.assertEqual(self._client_receivable_balance(), -180.0, "only the rest is owed")
        # Links both ways.
        self.assertEqual(payment.legal_refund_id, refund)
        self.assertEqual(credit_note.legal_refund_count, 1)
        self.assertIn(payment.move_id, refund.move_ids)
        # The rest, refunded later, closes the credit note: nothing owed either way.
        wizard = self._wizard(method="bank")
        line = self._select(wizard, credit_note, 180.0)
        self.assertEqual(line.available, 180.0)
        wizard.action_refund()
        self.assertEqual(credit_note.payment_state, "paid")
        self.assertEqual(self._client_receivable_balance(), 0.0)

    def test_cheque_refund_of_an_overpayment_carries_its_number(self):
        overpayment = self._manual_payment(650.0)
        (
            self._receivable_line(overpayment.move_id) | self._receivable_line(self.invoice)
        ).reconcile()
        self.assertEqual(self.invoice.payment_state, "paid")
        wizard = self._wizard(method="cheque", cheque_number="004217")
        self._select(wizard, overpayment.move_id, 150.0)
        refund = self.env["legal.refund"].browse(wizard.action_refund()["res_id"])
        payment = refund.payment_ids
        self.assertEqual(
            payment.payment_reference,
            "004217",
            payment.read(["memo", "payment_reference", "state"]),
        )
        self.assertIn("004217", payment.memo)
        self.assertEqual(self._client_receivable_balance(), 0.0)
        self.assertTrue(self._receivable_line(overpayment.move_id).reconciled)

    def test_cheque_without_number_is_refused_and_writes_nothing(self):
        credit_note = self._credit_note(100.0)
        wizard = self._wizard(method="cheque")
        self._select(wizard, credit_note, 100.0)
        refunds_before = self.env["legal.refund"].search_count([])
        with self.assertRefused(UserError, "number of the cheque"):
            wizard.action_refund()
        self.assertEqual(self.env["legal.refund"].search_count([]), refunds_before)
        self.assertEqual(credit_note.amount_residual, 100.0)

    def test_refunding_more_than_owed_is_refused_and_writes_nothing(self):
        credit_note = self._credit_note(100.0)
        wizard = self._wizard(method="bank")
        self._select(wizard, credit_note, 100.01)
        payments_before = self.env["account.payment"].search_count([])
        with self.assertRefused(UserError, "at most"):
            wizard.action_refund()
        # The model refuses it too, for callers that skip the wizard.
        refund = self.env["legal.refund"].create(
            {
                "partner_id": self.client_partner.id,
                "method": "bank",
                "line_ids": [
                    (
                        0,
                        0,
                        {
                            "kind": "credit_note",
                            "amount": 100.01,
                            "source_line_id": self._receivable_line(credit_note).id,
                        },
                    )
                ],
            }
        )
        with self.assertRefused(UserError, "can still be refunded"):
            refund.action_confirm()
        self.assertEqual(refund.state, "draft")
        self.assertEqual(self.env["account.payment"].search_count([]), payments_before)
        self.assertEqual(credit_note.amount_residual, 100.0)

    def test_bad_input_is_refused_with_clear_messages(self):
        credit_note = self._credit_note(100.0)
        other = self.env["res.partner"].create({"name": "Someone Else"})
        Refund = self.env["legal.refund"]
        cases = [
            ({"partner_id": self.client_partner.id, "method": "bank"}, "Select at least one"),
            (
                {
                    "partner_id": self.client_partner.id,
                    "method": "bank",
                    "line_ids": [
                        (
                            0,
                            0,
                            {
                                "kind": "credit_note",
                                "amount": -5.0,
                                "source_line_id": self._receivable_line(credit_note).id,
                            },
                        )
                    ],
                },
                "must be positive",
            ),
            (
                {
                    "partner_id": other.id,
                    "method": "bank",
                    "line_ids": [
                        (
                            0,
                            0,
                            {
                                "kind": "credit_note",
                                "amount": 5.0,
                                "source_line_id": self._receivable_line(credit_note).id,
                            },
                        )
                    ],
                },
                "Only a posted credit",
            ),
            (
                {
                    "partner_id": self.client_partner.id,
                    "method": "bank",
                    "line_ids": [
                        (
                            0,
                            0,
                            {
                                "kind": "payment",
                                "amount": 5.0,
                                "source_line_id": self._receivable_line(self.invoice).id,
                            },
                        )
                    ],
                },
                "can still be refunded",
            ),
        ]
        for values, message in cases:
            with self.subTest(message=message):
                refund = Refund.create(values)
                with self.assertRefused(UserError, message):
                    refund.action_confirm()
                self.assertEqual(refund.state, "draft")
                self.assertFalse(refund.line_ids.payment_id)
        wizard = self._wizard(method="bank")
        with self.assertRefused(UserError, "Select at least one"):
            wizard.action_refund()

    def test_card_refund_of_a_credit_note_goes_to_the_original_payment(self):
        """Recorded Stripe refund responses (the emulator flow is tested separately)."""
        invoice, tx = self._paid_card_invoice()
        credit_note = self._credit_note(200.0, invoice=invoice)
        wizard = self._wizard(method="provider")
        line = self._select(wizard, credit_note, 200.0)
        self.assertEqual(line.source_transaction_id, tx, "found automatically")
        with self.recorded_refunds() as calls:
            refund = self.env["legal.refund"].browse(wizard.action_refund()["res_id"])
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0]["payload"]["payment_intent"], "pi_legal_1")
        self.assertEqual(calls[0]["payload"]["amount"], 20000)
        self.assertTrue(calls[0]["key"].startswith(f"legal-refund-{refund.idempotency_key}"))
        self.assertEqual(refund.state, "done")
        refund_tx = refund.line_ids.transaction_id
        self.assertEqual(refund_tx.operation, "refund")
        self.assertEqual(refund_tx.source_transaction_id, tx)
        self.assertEqual(refund_tx.legal_refund_id, refund)
        payment = refund_tx.payment_id
        self.assertEqual(refund.line_ids.payment_id, payment)
        self.assertEqual(payment.journal_id, self.stripe_operating_journal)
        clearing = payment.move_id.line_ids.filtered(lambda rec: rec.credit)
        self.assertEqual(
            clearing.account_id,
            self.stripe_operating_journal.default_account_id,
            "Cr Stripe operating clearing (docs/accounting.md, entry 9)",
        )
        self.assertEqual(credit_note.payment_state, "paid")
        self.assertEqual(self._client_receivable_balance(), 0.0)

    def test_repeated_card_refunds_stop_at_the_payment_amount(self):
        """Recorded Stripe refund responses."""
        invoice, tx = self._paid_card_invoice()
        credit_note = self._credit_note(500.0, invoice=invoice)
        with self.recorded_refunds() as calls:
            for amount in (200.0, 250.0):
                wizard = self._wizard(method="provider")
                self._select(wizard, credit_note, amount)
                wizard.action_refund()
            self.assertEqual(tx._legal_refundable_amount(), 50.0)
            extra = self._manual_payment(100.0)
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
                                "amount": 100.0,
                                "source_line_id": self._receivable_line(extra.move_id).id,
                                "source_transaction_id": tx.id,
                            },
                        )
                    ],
                }
            )
            with self.assertRefused(UserError, "at most"):
                refund.action_confirm()
        self.assertEqual(len(calls), 2)
        self.assertEqual(credit_note.amount_residual, 50.0)
        self.assertEqual(len(tx.child_transaction_ids), 2)

    def test_card_refund_keeps_the_processing_fee_as_the_firms_expense(self):
        invoice, tx = self._paid_card_invoice()
        fee_move = tx._legal_post_fee_entry(14.80)
        credit_note = self._credit_note(500.0, invoice=invoice)
        wizard = self._wizard(method="provider")
        self._select(wizard, credit_note, 500.0)
        with self.recorded_refunds() as calls:
            wizard.action_refund()
        self.assertEqual(calls[0]["payload"]["amount"], 50000, "the client gets the gross back")
        fee_lines = self.env["account.move.line"].search(
            [("account_id", "=", self.fee_account.id), ("parent_state", "=", "posted")]
        )
        self.assertEqual(
            sum(fee_lines.mapped("balance")),
            14.80,
            fee_lines.mapped(
                lambda rec: (rec.move_id.name, rec.move_id.ref, rec.name, rec.balance)
            ),
        )
        self.assertEqual(fee_move.state, "posted")

    def test_credit_not_paid_by_card_is_refused_for_card_refund(self):
        credit_note = self._credit_note(100.0)
        wizard = self._wizard(method="provider")
        self._select(wizard, credit_note, 100.0)
        with self.assertRefused(UserError, "bank transfer or cheque"):
            wizard.action_refund()

    def test_refund_advice_is_mailed_with_its_pdf_and_chatter_is_kept(self):
        credit_note = self._credit_note(100.0)
        wizard = self._wizard(method="bank", send_advice=True)
        self._select(wizard, credit_note, 100.0)
        refund = self.env["legal.refund"].browse(
            wizard.with_context(legal_refund_no_advice=False).action_refund()["res_id"]
        )
        advice = refund.message_ids.filtered(lambda m: m.attachment_ids)
        self.assertTrue(advice, "the advice is posted with its PDF")
        self.assertIn(self.client_partner, advice.partner_ids)
        self.assertTrue(advice.attachment_ids[0].name.startswith("Refund Advice"))
        html, _ = self.env["ir.actions.report"]._render_qweb_html(
            "legal_refunds.action_report_legal_refund", refund.ids
        )
        self.assertIn(refund.name, html.decode())
        self.assertTrue(
            self.client_partner.message_ids.filtered(lambda m: refund.name in (m.body or ""))
        )
        self.assertEqual(self.client_partner.legal_refund_count, 1)
