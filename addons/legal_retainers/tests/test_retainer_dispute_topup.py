"""A dispute on a trust deposit takes money back from the matter: the evergreen top-up
follows (recorded Stripe responses: the emulator has no disputes)."""

from odoo.tests import tagged

from odoo.addons.legal_payments.tests.common import LegalPaymentsCommon, recorded_card_payment

from .common import TRUST_SECRET


def recorded_dispute(pi_id, amount, fee=1500):
    """A Stripe Dispute object as `charge.dispute.created` carries it."""
    return {
        "id": "dp_retainer_1",
        "object": "dispute",
        "amount": amount,
        "currency": "usd",
        "charge": pi_id.replace("pi_", "ch_"),
        "payment_intent": pi_id,
        "reason": "fraudulent",
        "status": "needs_response",
        "balance_transactions": [
            {
                "id": "txn_dispute_retainer",
                "object": "balance_transaction",
                "amount": -amount,
                "fee": fee,
                "net": -amount - fee,
                "type": "adjustment",
                "currency": "usd",
            }
        ],
    }


@tagged("post_install", "-at_install")
class TestRetainerTopupAfterDispute(LegalPaymentsCommon):
    def _pay_deposit(self, amount, reference, pi_id):
        tx = self._deposit_tx(amount=amount, reference=reference)
        with self.recorded_stripe(
            recorded_card_payment(pi_id=pi_id, amount=round(amount * 100), fee=0)
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

    def test_dispute_below_the_trigger_requests_a_topup(self):
        self.assertEqual(self.currency.name, "USD")
        self._pay_deposit(1000.0, "TRUST-TX-1", "pi_legal_1")
        self._pay_deposit(200.0, "TRUST-TX-2", "pi_legal_2")
        self.matter.write(
            {
                "retainer_enabled": True,
                "retainer_minimum_balance": 500.0,
                "retainer_topup_trigger": 300.0,
                "retainer_auto_topup": True,
            }
        )
        self.assertFalse(self.matter.retainer_request_ids)
        self._receive_and_process(
            self._event(
                "charge.dispute.created",
                recorded_dispute("pi_legal_1", 100000),
                event_id="evt_dp_retainer",
            ),
            secret=TRUST_SECRET,
        )
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, 200.0)
        topup = self.matter.retainer_request_ids
        self.assertEqual((topup.kind, topup.amount, topup.state), ("topup", 300.0, "sent"))
