# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Refunds of trust money: only trust managers start them, whatever the entry point, and only
the refund's own Stripe account can say that it failed."""

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import WEBHOOK_SECRET, LegalRefundsCommon

TRUST_SECRET = WEBHOOK_SECRET + "_trust"


@tagged("post_install", "-at_install")
class TestRefundIntegrity(LegalRefundsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.billing_user = cls._create_new_internal_user(
            login="billing_integrity", groups="account.group_account_invoice"
        )
        cls.trust_manager = cls._create_new_internal_user(
            login="trust_manager_integrity",
            groups="account.group_account_invoice,legal_trust.group_trust_manager",
        )

    def _paid_deposit(self, amount=1000.0):
        tx = self._deposit_tx(amount=amount, provider_reference="pi_legal_2")
        tx._set_done()
        tx.legal_fee_state = "none"
        tx._post_process()
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, amount)
        return tx

    def _trust_state(self, tx):
        self.matter.invalidate_recordset()
        tx.invalidate_recordset()
        return {
            "available": self.matter.trust_available,
            "balance": self.matter.trust_balance,
            "moves": self.env["account.move"].search_count([]),
            "refund_txs": len(tx.child_transaction_ids),
            "refunds": self.env["legal.refund"].search_count([]),
        }

    def test_billing_user_cannot_refund_a_trust_deposit_through_the_provider(self):
        tx = self._paid_deposit()
        before = self._trust_state(tx)
        with self.recorded_refunds(charge="ch_legal_2") as calls:
            with self.assertRaisesRegex(AccessError, "refund a payment into trust"):
                tx.with_user(self.billing_user).action_refund(amount_to_refund=250.0)
            self.assertFalse(calls, "no refund was asked of Stripe")
        self.assertEqual(self._trust_state(tx), before)
        # A trust manager may: the refund is booked as a disbursement of the matter.
        with self.recorded_refunds(charge="ch_legal_2") as calls:
            tx.with_user(self.trust_manager).action_refund(amount_to_refund=250.0)
        self.assertEqual(len(calls), 1)
        refund_tx = tx.child_transaction_ids
        self.assertEqual(refund_tx.amount, -250.0)
        refund_tx._post_process()
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, 750.0)

    def test_billing_user_still_refunds_an_operating_card_payment(self):
        _invoice, tx = self._paid_card_invoice()
        with self.recorded_refunds() as calls:
            tx.with_user(self.billing_user).action_refund(amount_to_refund=100.0)
        self.assertEqual(len(calls), 1)
        self.assertEqual(tx.child_transaction_ids.amount, -100.0)

    def _pending_trust_refund(self):
        self._paid_deposit()
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
        return refund

    def test_refund_failure_signed_for_another_stripe_account_changes_nothing(self):
        refund = self._pending_trust_refund()
        refund_tx = refund.line_ids.transaction_id
        before = self._trust_state(refund_tx.source_transaction_id)
        self.assertEqual(before["available"], 700.0)
        for event_type in ("refund.failed", "refund.updated"):
            event = self._event(
                event_type,
                {
                    "id": refund_tx.provider_reference,
                    "object": "refund",
                    "amount": 30000,
                    "currency": "usd",
                    "charge": "ch_legal_2",
                    "payment_intent": "pi_legal_2",
                    "status": "failed",
                    "failure_reason": "lost_or_stolen_card",
                },
                event_id=f"evt_other_account_{event_type}",
            )
            # Signed with the webhook secret of the operating provider, another account.
            stored = self._receive_and_process(event, secret=WEBHOOK_SECRET)
            self.assertEqual(stored.state, "ignored", event_type)
            self.assertFalse(stored.transaction_id)
        self.assertEqual(refund.state, "pending")
        self.assertEqual(refund_tx.state, "pending")
        self.assertFalse(refund.line_ids.reversal_move_ids)
        self.assertEqual(self._trust_state(refund_tx.source_transaction_id), before)
        # The same failure signed by the refund's own account is applied.
        self._receive_and_process(dict(event, id="evt_own_account"), secret=TRUST_SECRET)
        self.assertEqual(refund.state, "failed")
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, 1000.0)

    def test_refund_failure_of_another_refund_amount_is_refused(self):
        refund = self._pending_trust_refund()
        refund_tx = refund.line_ids.transaction_id
        event = self._event(
            "refund.failed",
            {
                "id": refund_tx.provider_reference,
                "object": "refund",
                "amount": 99900,
                "currency": "usd",
                "charge": "ch_legal_2",
                "status": "failed",
            },
            event_id="evt_wrong_amount",
        )
        with self.assertLogs("odoo.addons.legal_payments.models.payment_transaction", "ERROR"):
            stored = self._receive_and_process(event, secret=TRUST_SECRET)
        self.assertEqual(stored.state, "error")
        self.assertEqual(refund.state, "pending")
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, 700.0)

    def test_dashboard_refund_of_a_charge_of_another_intent_is_refused(self):
        tx = self._paid_deposit()
        before = self._trust_state(tx)
        charge = {
            "id": "ch_other",
            "object": "charge",
            "description": tx.reference,  # Names the deposit...
            "payment_intent": "pi_of_another_payment",  # ...but is of another payment.
            "amount": 100000,
            "currency": "usd",
            "refunds": {
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "id": "re_other",
                        "object": "refund",
                        "amount": 100000,
                        "currency": "usd",
                        "charge": "ch_other",
                        "payment_intent": "pi_of_another_payment",
                        "status": "succeeded",
                    }
                ],
            },
        }
        with self.assertLogs("odoo.addons.legal_payments.models.payment_transaction", "ERROR"):
            stored = self._receive_and_process(
                self._event("charge.refunded", charge, event_id="evt_other_charge"),
                secret=TRUST_SECRET,
            )
        self.assertEqual(stored.state, "error")
        self.assertEqual(self._trust_state(tx), before, "no refund, no disbursement")
