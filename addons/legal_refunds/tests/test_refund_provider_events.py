# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Refund events from Stripe: failures, late successes and dashboard refunds.

The emulator (localstripe) never fails a refund, sends no ``refund.failed`` and has no
dashboard: these tests use recorded, Stripe-shaped refund objects and events, signed with
the provider's webhook secret and processed by legal_payments' inbox.
"""

import json

from odoo.tests import tagged

from .common import WEBHOOK_SECRET, LegalRefundsCommon


@tagged("post_install", "-at_install")
class TestRefundProviderEvents(LegalRefundsCommon):
    def _card_refund(self, amount=200.0, status="succeeded"):
        invoice, tx = self._paid_card_invoice()
        credit_note = self._credit_note(amount, invoice=invoice)
        wizard = self._wizard(method="provider")
        self._select(wizard, credit_note, amount)
        with self.recorded_refunds(status=status):
            refund = self.env["legal.refund"].browse(wizard.action_refund()["res_id"])
        return credit_note, tx, refund

    @staticmethod
    def _refund_object(refund_id, amount, status, **values):
        return {
            "id": refund_id,
            "object": "refund",
            "amount": int(amount * 100),
            "currency": "usd",
            "charge": "ch_legal_1",
            "status": status,
            **values,
        }

    def test_failed_card_refund_reverses_its_entries_and_tells_the_user(self):
        credit_note, tx, refund = self._card_refund()
        self.assertEqual(credit_note.payment_state, "paid")
        payment = refund.line_ids.payment_id
        event = self._event(
            "charge.refund.updated",
            self._refund_object(
                "re_legal_1", 200.0, "failed", failure_reason="expired_or_canceled_card"
            ),
            event_id="evt_refund_failed_1",
        )
        stored = self._receive_and_process(event)
        self.assertEqual(stored.state, "done")
        self.assertEqual(refund.line_ids.transaction_id.state, "error")
        self.assertEqual(refund.state, "failed")
        self.assertEqual(refund.line_ids.state, "failed")
        self.assertIn("expired_or_canceled_card", refund.failure_message)
        reversal = refund.line_ids.reversal_move_ids
        self.assertEqual(reversal.reversed_entry_id, payment.move_id)
        self.assertEqual(payment.state, "canceled")
        self.assertEqual(credit_note.amount_residual, 200.0, "the client is owed it again")
        self.assertEqual(self._client_receivable_balance(), -200.0)
        activity = refund.activity_ids
        self.assertEqual(activity.user_id, refund.user_id)
        self.assertTrue(
            self.client_partner.message_ids.filtered(lambda m: "failed" in (m.body or ""))
        )
        # The same event again changes nothing.
        self._receive_and_process(dict(event, id="evt_refund_failed_1b"))
        self.assertEqual(len(refund.line_ids.reversal_move_ids), 1)

    def test_refund_failed_event_is_applied_by_the_inbox(self):
        """``refund.failed`` is stored directly in the inbox: legal_payments' reception does
        not list this event type yet (see the addon's readme)."""
        credit_note, tx, refund = self._card_refund()
        event = self._event(
            "refund.failed",
            self._refund_object(
                "re_legal_1", 200.0, "failed", failure_reason="lost_or_stolen_card"
            ),
            event_id="evt_refund_failed_2",
        )
        Event = self.env["legal.stripe.event"].sudo()
        Event._legal_insert(event, event["data"]["object"], self.stripe, json.dumps(event))
        Event._cron_process_stripe_events(auto_commit=False)
        self.assertEqual(refund.state, "failed")
        self.assertEqual(credit_note.amount_residual, 200.0)

    def test_pending_card_refund_is_reconciled_when_it_succeeds(self):
        credit_note, tx, refund = self._card_refund(status="pending")
        self.assertEqual(refund.state, "pending")
        self.assertFalse(refund.line_ids.payment_id)
        self.assertEqual(credit_note.amount_residual, 200.0)
        # Not refundable twice while it is pending.
        wizard = self._wizard(method="bank")
        self.assertFalse(
            wizard.line_ids.filtered(lambda rec: rec.source_line_id.move_id == credit_note)
        )
        event = self._event(
            "charge.refund.updated",
            self._refund_object("re_legal_1", 200.0, "succeeded"),
            event_id="evt_refund_ok",
        )
        self._receive_and_process(event)
        refund_tx = refund.line_ids.transaction_id
        self.assertEqual(refund_tx.state, "done")
        refund_tx._post_process()  # What payment's post-processing cron does.
        self.assertEqual(refund.state, "done")
        self.assertEqual(credit_note.payment_state, "paid")
        self.assertEqual(self._client_receivable_balance(), 0.0)

    def test_dashboard_refund_is_recorded_and_reconciled(self):
        invoice, tx = self._paid_card_invoice()
        credit_note = self._credit_note(150.0, invoice=invoice)
        charge = {
            "id": "ch_legal_1",
            "object": "charge",
            "description": tx.reference,
            "payment_intent": "pi_legal_1",
            "amount": 50000,
            "amount_refunded": 15000,
            "refunds": {
                "object": "list",
                "has_more": False,
                "data": [self._refund_object("re_dashboard_1", 150.0, "succeeded")],
            },
        }
        self._receive_and_process(self._event("charge.refunded", charge, event_id="evt_dash"))
        refund_tx = tx.child_transaction_ids
        self.assertEqual(refund_tx.provider_reference, "re_dashboard_1")
        refund_tx._post_process()  # What payment's post-processing cron does.
        refund = refund_tx.legal_refund_id
        self.assertEqual(refund.origin, "dashboard")
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.line_ids.source_move_id, credit_note)
        self.assertEqual(refund.line_ids.payment_id, refund_tx.payment_id)
        self.assertEqual(credit_note.payment_state, "paid")
        self.assertEqual(self._client_receivable_balance(), 0.0)

    def test_failed_trust_card_refund_puts_the_money_back_on_the_ledger(self):
        tx = self._deposit_tx(amount=1000.0, provider_reference="pi_legal_2")
        tx._set_done()
        tx.legal_fee_state = "none"
        tx._post_process()
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, 1000.0)
        refund = self.env["legal.refund"].create(
            {
                "partner_id": self.client_partner.id,
                "method": "provider",
                "matter_id": self.matter.id,
                "line_ids": [
                    (0, 0, {"kind": "trust", "amount": 300.0, "matter_id": self.matter.id})
                ],
            }
        )
        with self.recorded_refunds(status="pending", charge="ch_legal_2"):
            refund.action_confirm()
        self.assertEqual(refund.state, "pending")
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, 700.0, "disbursed before the request")
        event = self._event(
            "charge.refund.updated",
            self._refund_object("re_legal_1", 300.0, "failed", charge="ch_legal_2"),
            event_id="evt_trust_failed",
        )
        self._receive_and_process(event, secret=WEBHOOK_SECRET + "_trust")
        self.assertEqual(refund.state, "failed")
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, 1000.0)
        self.assertEqual(
            refund.line_ids.reversal_move_ids.reversed_entry_id, refund.line_ids.trust_move_id
        )

    def test_dashboard_refund_of_a_trust_deposit_is_disbursed_from_its_matter(self):
        tx = self._deposit_tx(amount=1000.0, provider_reference="pi_legal_2")
        tx._set_done()
        tx.legal_fee_state = "none"
        tx._post_process()
        charge = {
            "id": "ch_legal_2",
            "object": "charge",
            "description": tx.reference,
            "payment_intent": "pi_legal_2",
            "amount": 100000,
            "refunds": {
                "object": "list",
                "has_more": False,
                "data": [
                    self._refund_object("re_dashboard_2", 250.0, "succeeded", charge="ch_legal_2")
                ],
            },
        }
        self._receive_and_process(
            self._event("charge.refunded", charge, event_id="evt_dash_trust"),
            secret=WEBHOOK_SECRET + "_trust",
        )
        refund_tx = tx.child_transaction_ids
        refund_tx._post_process()
        refund = refund_tx.legal_refund_id
        self.assertEqual(refund.state, "done")
        self.assertEqual(refund.line_ids.kind, "trust")
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, 750.0)
        self.assertFalse(refund_tx.payment_id)
