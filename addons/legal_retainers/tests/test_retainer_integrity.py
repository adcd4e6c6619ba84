# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What charges a client's stored method for a top-up, and what applies their trust funds to
invoices, is never set by a user over RPC: the top-up code alone says which authorization a
top-up is charged under, and only a trust manager turns on applying trust funds."""

from odoo.exceptions import AccessError
from odoo.tests import tagged

from .common import LegalRetainersCommon


@tagged("post_install", "-at_install")
class TestRetainerIntegrity(LegalRetainersCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.token = cls.env["payment.token"].create(
            {
                "provider_id": cls.trust_provider.id,
                "payment_method_id": cls.demo_method.id,
                "partner_id": cls.client_a.id,
                "payment_details": "4242",
                "provider_ref": "demo-4242",
            }
        )
        # Awaiting the client's confirmation: it authorizes nothing yet.
        cls.authorization = cls.env["legal.payment.authorization"].create(
            {
                "partner_id": cls.client_a.id,
                "token_id": cls.token.id,
                "scope": "trust_topup",
                "matter_id": cls.matter_a.id,
                "max_amount": 5000.0,
            }
        )
        cls.request = cls.env["legal.retainer.request"].create(
            {"matter_id": cls.matter_a.id, "kind": "other", "amount": 2500.0}
        )

    def test_trust_user_cannot_make_a_topup_charge_itself_over_rpc(self):
        request = self.request.with_user(self.trust_user)
        for forged in (
            {"autocharge_state": "pending"},
            {"autocharge_authorization_id": self.authorization.id},
            {"autocharge_state": "pending", "autocharge_authorization_id": self.authorization.id},
        ):
            with self.assertRaises(AccessError), self.cr.savepoint():
                request.write(forged)
            # Not even a superuser's write: only the top-up code decides.
            with self.assertRaises(AccessError), self.cr.savepoint():
                self.request.sudo().write(forged)
        with self.assertRaises(AccessError), self.cr.savepoint():
            self.env["legal.retainer.request"].with_user(self.trust_user).create(
                {
                    "matter_id": self.matter_a.id,
                    "amount": 100.0,
                    "autocharge_state": "pending",
                    "autocharge_authorization_id": self.authorization.id,
                }
            )
        self.request.invalidate_recordset()
        self.assertFalse(self.request.autocharge_state)
        self.assertFalse(self.request.autocharge_authorization_id)
        transactions = self.env["payment.transaction"].search_count([])
        self.env["legal.retainer.request"]._cron_retainer_charge_topups(auto_commit=False)
        self.assertEqual(self.env["payment.transaction"].search_count([]), transactions)
        self.assertEqual(self.request.state, "draft")

    def test_only_a_trust_manager_applies_trust_funds_to_invoices_automatically(self):
        matter = self.matter_a.with_user(self.trust_user)
        for forged in (
            {"retainer_auto_apply": True, "retainer_engagement_consent": "Letter, clause 4"},
            {"retainer_engagement_consent": "Forged engagement"},
        ):
            with self.assertRaises(AccessError), self.cr.savepoint():
                matter.write(forged)
        with self.assertRaises(AccessError), self.cr.savepoint():
            self.env["legal.matter"].with_user(self.trust_user).create(
                {
                    "title": "Forged consent",
                    "partner_id": self.client_a.id,
                    "retainer_auto_apply": True,
                    "retainer_engagement_consent": "Letter",
                }
            )
        self.matter_a.invalidate_recordset()
        self.assertFalse(self.matter_a.retainer_auto_apply)
        self.assertFalse(self.matter_a.retainer_engagement_consent)
        # The trust manager records the engagement and turns it on; anyone may turn it off.
        self.matter_a.with_user(self.trust_manager).write(
            {"retainer_auto_apply": True, "retainer_engagement_consent": "Letter, clause 4"}
        )
        self.assertTrue(self.matter_a.retainer_auto_apply)
        matter.write({"retainer_auto_apply": False})
        self.assertFalse(self.matter_a.retainer_auto_apply)
