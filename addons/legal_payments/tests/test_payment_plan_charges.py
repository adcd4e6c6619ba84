# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The instalment cron charging stored cards through the Stripe emulator.

Stripe's decline card 4000000000000002 cannot be saved on a customer (Stripe and the emulator
decline it when it is attached), so a saved card that is declined when charged later is Stripe's
4000000000000341 ("attaches, then charges fail")."""

from datetime import timedelta

from freezegun import freeze_time

from odoo import SUPERUSER_ID, fields
from odoo.fields import Command
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..const import STRIPE_API_BASE_PARAM
from .test_stripe_emulator_flows import CARD_DECLINED, CARD_OK, StripeEmulatorCase


class PaymentPlanStripeCase(StripeEmulatorCase):
    def setUp(self):
        super().setUp()
        self.today = fields.Date.context_today(self.env.user)
        self.invoice_900 = self.init_invoice(
            "out_invoice",
            partner=self.client_partner,
            amounts=[900.0],
            post=True,
            taxes=[],
            currency=self.currency,
        )
        self.invoice_900.invoice_user_id = self.lawyer

    def _token(self, number=CARD_OK):
        customer = self.sdk.v1.customers.create({"name": "Client Ann"})
        card = self._card(number)
        self.sdk.v1.payment_methods.attach(card.id, {"customer": customer.id})
        return self.env["payment.token"].create(
            {
                "provider_id": self.stripe.id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "partner_id": self.client_partner.id,
                "payment_details": number[-4:],
                "provider_ref": customer.id,
                "stripe_payment_method": card.id,
            }
        )

    def _running_plan(self, token, start=None, frequency="monthly"):
        plan = self.env["legal.payment.plan"].create(
            {
                "partner_id": self.client_partner.id,
                "invoice_ids": [Command.set(self.invoice_900.ids)],
                "user_id": self.lawyer.id,
                "instalment_number": 3,
                "frequency": frequency,
                "date_start": start or self.today,
            }
        )
        plan.action_generate_schedule()
        plan.action_send()
        plan.with_user(SUPERUSER_ID)._legal_accept(
            token, ip_address="203.0.113.9", user_agent="Mozilla/5.0 (plan)"
        )
        return plan

    def _run_cron(self):
        self.env["legal.payment.plan"]._cron_charge_instalments(auto_commit=False)

    def _register_payment(self, amount):
        wizard = (
            self.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=self.invoice_900.ids)
            .create({"amount": amount, "journal_id": self.operating_bank.id})
        )
        return wizard._create_payments()


@tagged("post_install", "-at_install")
class TestPaymentPlanCharges(PaymentPlanStripeCase):
    def test_acceptance_records_the_authorization_and_runs_the_plan(self):
        token = self._token()
        plan = self._running_plan(token)
        auth = plan.authorization_id
        self.assertEqual(plan.state, "running")
        self.assertEqual(
            (auth.scope, auth.plan_id, auth.token_id, auth.state),
            ("payment_plan", plan, token, "active"),
        )
        self.assertEqual(auth.max_amount, 300.0)
        last_due = max(plan.instalment_ids.mapped("due_date"))
        self.assertEqual(auth.date_end, last_due + timedelta(days=7))
        self.assertEqual(auth.accepted_ip, "203.0.113.9")
        self.assertIn(plan.name, str(auth.plan_id.name))
        self.assertEqual(plan.instalment_ids.mapped("state"), ["due", "planned", "planned"])

    def test_cron_charges_the_due_instalment_once_through_the_authorization(self):
        plan = self._running_plan(self._token())
        first, second, _third = plan.instalment_ids
        self._run_cron()
        tx = first.transaction_ids
        self.assertEqual(len(tx), 1)
        self.assertEqual((tx.state, tx.amount, tx.operation), ("done", 300.0, "offline"))
        self.assertEqual(tx.legal_authorization_id, plan.authorization_id)
        self.assertEqual(first.state, "paid")
        self.assertEqual(second.state, "planned")
        self.assertEqual(self.invoice_900.amount_residual, 600.0)
        attempt = first.attempt_ids
        self.assertEqual((attempt.attempt_number, attempt.state), (1, "done"))
        self.assertEqual(attempt.name, tx.reference)
        self.assertTrue(attempt.idempotency_key)
        # Run again (a second cron run the same day): nothing is charged again.
        self._run_cron()
        self.assertEqual(len(first.transaction_ids), 1)
        self.assertEqual(self.invoice_900.amount_residual, 600.0)
        # The next due date: the second instalment is charged.
        with freeze_time(second.due_date):
            self._run_cron()
        self.assertEqual(second.state, "paid")
        self.assertEqual(self.invoice_900.amount_residual, 300.0)

    def test_declines_are_retried_three_times_then_the_client_gets_a_pay_link(self):
        plan = self._running_plan(self._token(CARD_DECLINED))
        first = plan.instalment_ids[0]
        self._run_cron()
        self.assertEqual(first.attempt_ids.state, "declined")
        self.assertEqual(first.state, "due")
        self.assertTrue(first.last_error)
        self.assertEqual(first.next_attempt_date, self.today + timedelta(days=1))
        self._run_cron()  # Same day: not retried before the next attempt date.
        self.assertEqual(len(first.attempt_ids), 1)
        for days, next_days in ((1, 3), (3, 7)):
            with freeze_time(self.today + timedelta(days=days)):
                self._run_cron()
            self.assertEqual(first.next_attempt_date, self.today + timedelta(days=next_days))
        self.assertEqual(len(first.attempt_ids), 3)
        self.assertFalse(plan.activity_ids)
        with freeze_time(self.today + timedelta(days=7)):
            self._run_cron()
        self.assertEqual(len(first.attempt_ids), 4)
        self.assertEqual(first.state, "failed")
        self.assertFalse(first.next_attempt_date)
        self.assertEqual(set(first.attempt_ids.mapped("state")), {"declined"})
        self.assertEqual(self.invoice_900.amount_residual, 900.0)
        # The client is e-mailed a link to pay the instalment...
        mail = plan.message_ids.filtered(
            lambda m: self.client_partner in m.partner_ids and "/instalments/" in str(m.body)
        )
        self.assertEqual(len(mail), 1)
        self.assertIn(f"/instalments/{first.id}/pay?access_token=", str(mail.body))
        self.assertTrue(first.pay_link_sent_date)
        # ... and the firm is told: an activity for the responsible lawyer and a note.
        self.assertEqual(plan.activity_ids.user_id, self.lawyer)
        self.assertIn("could not be charged", plan.activity_ids.summary)
        # A failed instalment is no longer charged by the cron.
        with freeze_time(self.today + timedelta(days=20)):
            self._run_cron()
        self.assertEqual(len(first.attempt_ids), 4)

    def test_revoked_authorization_blocks_the_charge_and_the_reason_is_recorded(self):
        plan = self._running_plan(self._token())
        plan.authorization_id.action_revoke()
        self._run_cron()
        first = plan.instalment_ids[0]
        self.assertEqual(first.attempt_ids.state, "refused")
        self.assertIn("revoked", first.last_error)
        self.assertIn("revoked", first.attempt_ids.reason)
        self.assertEqual(first.transaction_ids.state, "error")
        self.assertEqual(self.invoice_900.amount_residual, 900.0)
        self.assertTrue(
            plan.message_ids.filtered(lambda m: "revoked" in str(m.body)),
            "the firm reads the reason in the plan's chatter",
        )

    def test_expired_authorization_blocks_the_charge(self):
        plan = self._running_plan(self._token())
        last = plan.instalment_ids[-1]
        with freeze_time(plan.authorization_id.date_end + timedelta(days=1)):
            self._run_cron()
        self.assertIn("expired", last.last_error)
        self.assertEqual(self.invoice_900.amount_residual, 900.0)

    def test_outside_payment_reduces_the_remaining_instalments_and_is_never_charged(self):
        plan = self._running_plan(self._token())
        first, second, third = plan.instalment_ids
        # The client wires 400 to the firm, registered on the invoice.
        self._register_payment(400.0)
        self.assertEqual(third.amount_outside, 300.0)
        self.assertEqual(third.state, "paid")
        self.assertEqual((second.amount_outside, second.amount_due), (100.0, 200.0))
        self.assertEqual(first.amount_due, 300.0)
        self.assertEqual(plan.instalment_ids.mapped("amount"), [300.0, 300.0, 300.0])
        self._run_cron()
        self.assertEqual(first.transaction_ids.amount, 300.0)
        with freeze_time(second.due_date):
            self._run_cron()
        self.assertEqual(second.transaction_ids.amount, 200.0)
        self.assertEqual(self.invoice_900.amount_residual, 0.0)
        self.assertEqual(plan.state, "done")
        with freeze_time(third.due_date):
            self._run_cron()
        self.assertFalse(third.transaction_ids)
        charged = sum(plan.instalment_ids.transaction_ids.mapped("amount"))
        self.assertEqual(charged, 500.0, "900 due, 400 paid outside: 500 charged, not 900")

    def test_plan_is_done_when_the_invoices_are_paid_and_the_rest_is_cancelled(self):
        plan = self._running_plan(self._token())
        self._run_cron()
        self._register_payment(600.0)
        self.assertEqual(plan.state, "done")
        self.assertEqual(plan.instalment_ids.mapped("state"), ["paid", "cancelled", "cancelled"])
        with freeze_time(self.today + timedelta(days=70)):
            self._run_cron()
        self.assertEqual(len(plan.instalment_ids.transaction_ids), 1)

    def test_unreachable_provider_is_a_failed_attempt_retried_the_next_day(self):
        plan = self._running_plan(self._token())
        first = plan.instalment_ids[0]
        params = self.env["ir.config_parameter"].sudo()
        params.set_param(STRIPE_API_BASE_PARAM, "http://127.0.0.1:9")  # nothing listens
        with mute_logger("odoo.addons.legal_payments.models.payment_provider"):
            self._run_cron()
        self.assertEqual(first.attempt_ids.state, "failed")
        self.assertIn("connection", first.last_error)
        self.assertEqual(first.transaction_ids.state, "error")
        self.assertEqual(first.next_attempt_date, self.today + timedelta(days=1))
        params.set_param(STRIPE_API_BASE_PARAM, self.emulator_base)
        with freeze_time(self.today + timedelta(days=1)):
            self._run_cron()
        self.assertEqual(first.state, "paid")
        self.assertEqual(first.attempt_ids.mapped("state"), ["failed", "done"])
        self.assertEqual(self.invoice_900.amount_residual, 600.0)
