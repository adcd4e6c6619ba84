# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from datetime import timedelta

from odoo import SUPERUSER_ID, fields
from odoo.fields import Command
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestPaymentPlanTour(HttpCase):
    """A client opens their running plan from its e-mail link and pays the last instalment,
    due in two months, in Chromium with Odoo's demo provider; the cron then never charges it."""

    def test_client_pays_a_future_instalment_from_the_plan_page(self):
        demo = self.env.ref("payment.payment_provider_demo", raise_if_not_found=False)
        self.assertTrue(
            demo and demo.module_id.state == "installed",
            "payment_demo must be installed for this tour: run it through scripts/test",
        )
        demo.write({"state": "test", "is_published": True})
        # The only provider offered, beside the client's saved payment method.
        self.env["payment.provider"].search(
            [("id", "!=", demo.id), ("company_id", "=", demo.company_id.id)]
        ).write({"is_published": False})
        self.assertFalse(demo.legal_is_trust, "the demo provider pays invoices (operating)")
        client = self.env["res.partner"].create(
            {"name": "Tour Plan Client", "email": "plan.tour@example.com"}
        )
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": client.id,
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
                "date_start": today + timedelta(days=1),
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
                "provider_ref": "demo-plan-tour",
                "demo_simulated_state": "done",
            }
        )
        plan.with_user(SUPERUSER_ID)._legal_accept(token)
        last = plan.instalment_ids[-1]
        self.assertEqual(last.state, "planned")
        self.start_tour(plan.get_portal_url(), "legal_payments_pay_future_instalment")
        self.assertEqual(last.state, "paid")
        self.assertEqual(last.transaction_ids.amount, 300.0)
        self.assertEqual(invoice.amount_residual, 600.0)
        self.assertEqual(plan.instalment_ids.mapped("amount_due"), [300.0, 300.0, 0.0])
