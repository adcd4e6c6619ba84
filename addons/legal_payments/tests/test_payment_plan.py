# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from datetime import date

from odoo.exceptions import UserError, ValidationError
from odoo.fields import Command
from odoo.tests import tagged

from .common import LegalPaymentsCommon


class PaymentPlanCommon(LegalPaymentsCommon):
    """A draft plan helper over the client's invoices."""

    def _plan(self, invoices=None, **values):
        invoices = invoices or self.invoice
        return self.env["legal.payment.plan"].create(
            {
                "partner_id": self.client_partner.id,
                "invoice_ids": [Command.set(invoices.ids)],
                **values,
            }
        )

    def _invoice(self, amount, partner=None):
        invoice = self.init_invoice(
            "out_invoice",
            partner=partner or self.client_partner,
            amounts=[amount],
            post=True,
            taxes=[],
            currency=self.currency,
        )
        invoice.invoice_user_id = self.lawyer
        return invoice


@tagged("post_install", "-at_install")
class TestPaymentPlanSchedule(PaymentPlanCommon):
    def test_regular_schedule_splits_the_total_and_the_last_instalment_absorbs_the_rounding(
        self,
    ):
        plan = self._plan(
            invoices=self._invoice(1000.0),
            instalment_number=3,
            frequency="monthly",
            date_start=date(2027, 1, 31),
        )
        self.assertEqual(plan.amount_total, 1000.0)
        plan.action_generate_schedule()
        self.assertEqual(plan.instalment_ids.mapped("amount"), [333.33, 333.33, 333.34])
        self.assertEqual(
            plan.instalment_ids.mapped("due_date"),
            [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)],
        )
        self.assertEqual(plan.instalment_ids.mapped("sequence"), [1, 2, 3])
        plan._check_schedule()  # adds up to the cent

    def test_weekly_and_every_two_weeks_schedules(self):
        plan = self._plan(instalment_number=4, frequency="biweekly", date_start=date(2027, 1, 1))
        plan.action_generate_schedule()
        self.assertEqual(
            plan.instalment_ids.mapped("due_date"),
            [date(2027, 1, 1), date(2027, 1, 15), date(2027, 1, 29), date(2027, 2, 12)],
        )
        self.assertEqual(sum(plan.instalment_ids.mapped("amount")), 500.0)
        plan.write({"frequency": "weekly", "instalment_number": 7})
        plan.action_generate_schedule()
        self.assertEqual(len(plan.instalment_ids), 7)
        self.assertEqual(plan.instalment_ids[1].due_date, date(2027, 1, 8))
        self.assertEqual(plan.instalment_ids.mapped("amount")[-1], 71.42)  # 6 x 71.43 + 71.42
        self.assertAlmostEqual(sum(plan.instalment_ids.mapped("amount")), 500.0, places=2)

    def test_explicit_schedule_must_add_up_to_the_total(self):
        plan = self._plan(
            schedule_mode="custom",
            instalment_ids=[
                Command.create({"due_date": date(2027, 3, 1), "amount": 100.0, "sequence": 9}),
                Command.create({"due_date": date(2027, 2, 1), "amount": 300.0, "sequence": 9}),
            ],
        )
        with self.assertRaisesRegex(ValidationError, "add up to .*400.00.*500.00"):
            plan.action_send()
        self.assertEqual(plan.state, "draft")
        plan.instalment_ids[0].amount = 200.0
        plan.action_send()
        self.assertEqual(plan.state, "awaiting")
        # Numbered in the order of the due dates for the client.
        first = plan.instalment_ids.filtered(lambda i: i.sequence == 1)
        self.assertEqual((first.due_date, first.amount), (date(2027, 2, 1), 300.0))
        message = plan.message_ids.filtered(lambda m: self.client_partner in m.partner_ids)
        self.assertTrue(message, "the client is e-mailed the plan to accept")
        self.assertIn(plan.get_portal_url(), str(message[0].body))
        with self.assertRaisesRegex(UserError, "accepted this schedule"):
            plan.instalment_ids[0].amount = 250.0

    def test_plan_pays_open_invoices_of_its_client_in_one_plan_only(self):
        other = self.env["res.partner"].create({"name": "Client Bob"})
        with self.assertRaisesRegex(ValidationError, "another client"):
            self._plan(invoices=self.invoice + self._invoice(100.0, partner=other))
        plan = self._plan(instalment_number=2)
        plan.action_generate_schedule()
        plan.action_send()
        second = self._plan(instalment_number=2)
        second.action_generate_schedule()
        with self.assertRaisesRegex(UserError, "already paid by payment plan"):
            second.action_send()
        plan.action_cancel()
        second.action_send()
        self.assertEqual(second.state, "awaiting")

    def test_create_payment_plan_from_the_invoice_list(self):
        second = self._invoice(250.0)
        action = self.env["legal.payment.plan"].action_create_from_invoices(self.invoice + second)
        plan = self.env["legal.payment.plan"].browse(action["res_id"])
        self.assertEqual(plan.partner_id, self.client_partner)
        self.assertEqual(plan.invoice_ids, self.invoice + second)
        self.assertEqual(plan.amount_total, 750.0)
        other = self._invoice(100.0, partner=self.env["res.partner"].create({"name": "Bob"}))
        with self.assertRaisesRegex(UserError, "one client"):
            self.env["legal.payment.plan"].action_create_from_invoices(self.invoice + other)

    def test_plan_authorization_names_a_plan_of_its_client(self):
        token = self.env["payment.token"].create(
            {
                "provider_id": self.stripe.id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "partner_id": self.client_partner.id,
                "payment_details": "4242",
                "provider_ref": "cus_plan_test",
                "stripe_payment_method": "pm_plan_test",
            }
        )
        bob = self.env["res.partner"].create({"name": "Client Bob"})
        plan = self._plan()
        bob_plan = self.env["legal.payment.plan"].create(
            {
                "partner_id": bob.id,
                "invoice_ids": [Command.set(self._invoice(80.0, partner=bob).ids)],
            }
        )
        Authorization = self.env["legal.payment.authorization"]
        values = {
            "partner_id": self.client_partner.id,
            "token_id": token.id,
            "scope": "payment_plan",
            "max_amount": 200.0,
        }
        with self.assertRaisesRegex(ValidationError, "names its plan"):
            Authorization.create(values)
        with self.assertRaisesRegex(ValidationError, "another client"):
            Authorization.create({**values, "plan_id": bob_plan.id})
        with self.assertRaisesRegex(ValidationError, "Only a payment plan"):
            Authorization.create({**values, "scope": "invoices", "plan_id": plan.id})
        self.assertEqual(Authorization.create({**values, "plan_id": plan.id}).plan_id, plan)


@tagged("post_install", "-at_install")
class TestPaymentPlanDemo(LegalPaymentsCommon):
    def test_demo_plan_awaits_the_clients_acceptance(self):
        plan = self.env.ref("legal_payments.payment_plan_harper", raise_if_not_found=False)
        if not plan:
            self.skipTest("installed without demo data")
        plan = plan.sudo()  # the demo company's plan, read by the test company's user
        self.assertEqual(plan.state, "awaiting")
        self.assertEqual(plan.instalment_ids.mapped("amount"), [500.0, 500.0, 500.0])
        self.assertEqual(plan.amount_total, 1500.0)
        self.assertTrue(plan.access_token, "the client's e-mailed link works")
