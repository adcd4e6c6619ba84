"""The retainer request lifecycle paid by card through the trust Stripe provider, against
the Stripe emulator (localstripe, started by the root conftest.py)."""

from odoo.tests import tagged

from odoo.addons.legal_payments.tests.test_stripe_emulator_flows import (
    CARD_DECLINED,
    CARD_OK,
    StripeEmulatorCase,
)


@tagged("post_install", "-at_install")
class TestRetainerStripeEmulator(StripeEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.matter.write(
            {
                "retainer_enabled": True,
                "retainer_initial_amount": 1000.0,
                "retainer_minimum_balance": 500.0,
                "retainer_topup_trigger": 300.0,
            }
        )

    def _pay_request_by_card(self, request, amount, reference, card=CARD_OK):
        request._retainer_check_payable(amount, request.currency_id)
        tx = self._deposit_tx(
            amount=amount, reference=reference, legal_retainer_request_id=request.id
        )
        self._return_route(tx, self._customer_pays(tx, card))
        return tx

    def test_retainer_request_lifecycle_by_card(self):
        request = self.matter.action_request_retainer()
        self.assertEqual((request.state, request.amount_due), ("sent", 1000.0))
        declined = self._pay_request_by_card(request, 900.0, "RET-TX-0", CARD_DECLINED)
        self.assertEqual(declined.state, "error")
        self.assertEqual((request.state, request.amount_paid), ("sent", 0.0))
        self._pay_request_by_card(request, 900.0, "RET-TX-1")
        self.assertEqual((request.state, request.amount_due), ("partial", 100.0))
        self.assertEqual(self.matter.trust_balance, 900.0)
        self.assertEqual(self.matter.action_request_retainer(), request)
        tx = self._pay_request_by_card(request, 100.0, "RET-TX-2")
        self.assertEqual(request.state, "paid")
        self.assertEqual(self.matter.trust_balance, 1000.0)
        # The status poll again: nothing more is credited.
        tx._post_process()
        self.assertEqual(self.matter.trust_balance, 1000.0)
        self.assertEqual(request.amount_paid, 1000.0)
