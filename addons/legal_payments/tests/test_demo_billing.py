# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The demo clients' billing: open invoices, a plan awaiting acceptance, monthly statements."""

import re

from odoo.tests import tagged

from odoo.addons.legal_trust.tests.test_demo_logins import DemoLoginCase

DEMO_BILLING = {
    # login: (its open invoices, its plan, the other client's invoices)
    "harper": (
        ("legal_payments.invoice_open_harper", "legal_payments.invoice_payment_plan_harper"),
        "legal_payments.payment_plan_harper",
        ("legal_payments.invoice_open_ellis", "legal_payments.invoice_payment_plan_ellis"),
    ),
    "ellis": (
        ("legal_payments.invoice_open_ellis", "legal_payments.invoice_payment_plan_ellis"),
        "legal_payments.payment_plan_ellis",
        ("legal_payments.invoice_open_harper", "legal_payments.invoice_payment_plan_harper"),
    ),
}


@tagged("post_install", "-at_install")
class TestDemoBilling(DemoLoginCase):
    def test_each_demo_client_sees_its_open_invoices_and_its_plan_awaiting_acceptance(self):
        for login, (invoices, plan_xmlid, others) in DEMO_BILLING.items():
            self._login_as(login)
            billing = self._open("/my/billing")
            for xmlid in invoices:
                invoice = self.env.ref(xmlid)
                self.assertEqual(invoice.state, "posted")
                self.assertEqual(invoice.payment_state, "not_paid")
                self.assertIn(invoice.name, billing, f"{login} sees {invoice.name}")
            for xmlid in others:
                self.assertNotIn(self.env.ref(xmlid).name, billing)
            self.assertIn("o_legal_billing_trust_row", billing, "trust per matter")
            plan = self.env.ref(plan_xmlid)
            self.assertEqual(plan.state, "awaiting")
            plans = self._open("/my/payment_plans")
            self.assertIn(plan.name, plans, f"{login} sees its plan awaiting acceptance")
            client = self.env.ref(invoices[0]).commercial_partner_id
            self.assertTrue(client.legal_monthly_statement, "a statement every month")
            statement = self.url_open(
                "/my/billing/statement",
                data={
                    "date_from": "2000-01-01",
                    "date_to": "2099-12-31",
                    "csrf_token": self._csrf(billing),
                },
            )
            self.assertEqual(statement.status_code, 200)
            self.assertIn(self.env.ref(invoices[0]).name.encode(), statement.content)

    def test_the_open_demo_invoices_print_pay_now(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", True
        )
        for xmlid in ("legal_payments.invoice_open_harper", "legal_payments.invoice_open_ellis"):
            invoice = self.env.ref(xmlid)
            values = invoice._legal_pay_now_document_values()
            self.assertTrue(values, f"{invoice.name} can be paid online")
            self.assertIn(f"/my/invoices/{invoice.id}?access_token=", values["url"])

    @staticmethod
    def _csrf(page):
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
