# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from datetime import timedelta

from odoo import SUPERUSER_ID, fields
from odoo.fields import Command
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestBillingTour(HttpCase):
    """A client logs in to the portal, opens /my/billing, downloads a statement of account and
    pays the next instalment of their payment plan with Odoo's demo provider, in Chromium."""

    def test_client_downloads_a_statement_and_pays_an_instalment(self):
        demo = self.env.ref("payment.payment_provider_demo", raise_if_not_found=False)
        self.assertTrue(
            demo and demo.module_id.state == "installed",
            "payment_demo must be installed for this tour: run it through scripts/test",
        )
        demo.write({"state": "test", "is_published": True})
        self.env["payment.provider"].search(
            [("id", "!=", demo.id), ("company_id", "=", demo.company_id.id)]
        ).write({"is_published": False})
        company = demo.company_id
        client_user = self.env["res.users"].create(
            {
                "name": "Billing Tour Client",
                "login": "billing_tour_client",
                "password": "billing_tour_client-1234",
                "email": "billing.tour@example.com",
                "company_id": company.id,
                "company_ids": [Command.set(company.ids)],
                "groups_id": [Command.set(self.env.ref("base.group_portal").ids)],
            }
        )
        client = client_user.partner_id
        matter = self.env["legal.matter"].create(
            {"title": "Tour v. Statement", "partner_id": client.id, "company_id": company.id}
        )
        matter.trust_deposit(250.0)
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": client.id,
                "company_id": company.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Legal services",
                            "quantity": 1,
                            "price_unit": 900.0,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        invoice.action_post()
        today = fields.Date.context_today(self.env.user)
        plan = self.env["legal.payment.plan"].create(
            {
                "partner_id": client.id,
                "invoice_ids": [Command.set(invoice.ids)],
                "instalment_number": 3,
                "frequency": "monthly",
                "date_start": today + timedelta(days=3),
            }
        )
        plan.action_generate_schedule()
        plan.action_send()
        token = self.env["payment.token"].create(
            {
                "provider_id": demo.id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "partner_id": client.id,
                "payment_details": "4242",
                "provider_ref": "demo-billing-tour",
                "demo_simulated_state": "done",
            }
        )
        plan.with_user(SUPERUSER_ID)._legal_accept(token)
        first = plan.instalment_ids[0]
        self.assertEqual((first.state, first.amount_due), ("planned", 300.0))

        self.start_tour(
            "/my/billing",
            "legal_payments_billing_statement_instalment",
            login="billing_tour_client",
        )

        self.assertEqual(first.state, "paid")
        self.assertEqual(first.transaction_ids.amount, 300.0)
        self.assertEqual(invoice.amount_residual, 600.0)
        self.assertEqual(matter.trust_balance, 250.0, "trust money is never used by the plan")
