"""A dispute on a trust deposit takes money back from the matter: the evergreen top-up
follows (recorded Stripe responses: the emulator has no disputes)."""

from odoo.tests import tagged

from odoo.addons.legal_payments.tests import test_disputes_payouts as disputes
from odoo.addons.legal_payments.tests.common import LegalPaymentsCommon


@tagged("post_install", "-at_install")
class TestRetainerTopupAfterDispute(LegalPaymentsCommon):
    # The payments tests' recorded trust deposit (imported through the module, so that its
    # test class is not collected twice).
    _pay_deposit = disputes.TestDisputesAndPayouts._pay_deposit

    def test_dispute_below_the_trigger_requests_a_topup(self):
        self._pay_deposit(amount=1000.0)
        self._pay_deposit(amount=200.0, reference="TRUST-TX-2", pi_id="pi_legal_2")
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
                disputes.recorded_dispute("pi_legal_1", 100000),
                event_id="evt_dp_retainer",
            ),
            secret=disputes.TRUST_SECRET,
        )
        self.matter.invalidate_recordset()
        self.assertEqual(self.matter.trust_available, 200.0)
        topup = self.matter.retainer_request_ids
        self.assertEqual((topup.kind, topup.amount, topup.state), ("topup", 300.0, "sent"))
