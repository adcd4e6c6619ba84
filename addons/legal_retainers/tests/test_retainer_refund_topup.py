"""A client refund of trust money takes the matter below its trigger: the evergreen top-up
follows. Runs when legal_refunds is installed beside legal_retainers (scripts/test installs
all four addons); the two addons do not depend on each other."""

from unittest import SkipTest

from odoo.modules.registry import Registry
from odoo.tests import tagged
from odoo.tests.common import get_db_name

from odoo.addons.legal_refunds.tests.common import LegalRefundsCommon


@tagged("post_install", "-at_install")
class TestRetainerTopupAfterRefund(LegalRefundsCommon):
    @classmethod
    def setUpClass(cls):
        # Only a partial install (e.g. scripts/test --addons legal_retainers) lacks it.
        if "legal.refund.wizard" not in Registry(get_db_name()):
            raise SkipTest("legal_refunds is not installed beside legal_retainers")
        super().setUpClass()

    def test_trust_refund_below_the_trigger_requests_a_topup(self):
        self.matter.sudo().trust_deposit(1000.0, journal_id=self.trust_bank.id)
        self.matter.write(
            {
                "retainer_enabled": True,
                "retainer_minimum_balance": 500.0,
                "retainer_topup_trigger": 300.0,
                "retainer_auto_topup": True,
            }
        )
        wizard = (
            self.env["legal.refund.wizard"]
            .with_context(
                default_matter_id=self.matter.id, default_partner_id=self.client_partner.id
            )
            .create({"method": "bank", "trust_journal_id": self.trust_bank.id})
        )
        wizard.line_ids.filtered("selected").amount = 800.0
        refund = self.env["legal.refund"].browse(wizard.action_refund()["res_id"])
        self.assertEqual(refund.state, "done")
        self.assertEqual(self.matter.trust_available, 200.0)
        topup = self.matter.retainer_request_ids
        self.assertEqual((topup.kind, topup.amount, topup.state), ("topup", 300.0, "sent"))
