# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The demo clients' retainer requests, seen from their portal logins."""

from odoo.tests import tagged

from odoo.addons.legal_trust.tests.test_demo_logins import DemoLoginCase


@tagged("post_install", "-at_install")
class TestDemoRetainers(DemoLoginCase):
    def test_each_demo_client_sees_its_own_retainer_request(self):
        harper = self.env.ref("legal_retainers.retainer_request_harper_lease")
        ellis = self.env.ref("legal_retainers.retainer_request_ellis_initial")
        self.assertEqual((harper.state, harper.amount_due), ("sent", 1500.0))
        self.assertEqual((ellis.state, ellis.amount_due), ("partial", 100.0))
        for login, own, other in (("harper", harper, ellis), ("ellis", ellis, harper)):
            self._login_as(login)
            page = self._open("/my/retainers")
            self.assertIn(own.name, page, f"{login} sees {own.name}")
            self.assertNotIn(other.name, page)
            self.assertIn("Pay Now", self._open(f"/my/retainers/{own.id}"))
