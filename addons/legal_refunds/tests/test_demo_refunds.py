# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The demo clients' refunds, in their transaction history."""

from odoo.tests import tagged

from odoo.addons.legal_trust.tests.test_demo_logins import DemoLoginCase


@tagged("post_install", "-at_install")
class TestDemoRefunds(DemoLoginCase):
    def test_each_demo_client_finds_its_refund_in_its_history(self):
        for login, amount in (("harper", "150.00"), ("ellis", "120.00")):
            client = self.env["res.users"].search([("login", "=", login)]).commercial_partner_id
            refund = self.env["legal.refund"].search([("partner_id", "=", client.id)])
            self.assertEqual(len(refund), 1, f"one demo refund for {client.name}")
            self.assertEqual(refund.state, "done")
            self._login_as(login)
            history = self._open("/my/billing/history?kind=refund")
            self.assertIn(amount, history, f"{login} sees the refund of {amount}")
            self.assertNotIn("No transaction matches these filters", history)
