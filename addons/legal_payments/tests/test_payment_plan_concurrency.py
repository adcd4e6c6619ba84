# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Two runs of the instalment cron at once, in two real database transactions (separate
cursors on committed fixtures, removed afterwards), charging a saved card through the Stripe
emulator: the instalment is charged once."""

import os
import threading

import stripe

from odoo import SUPERUSER_ID, api, fields
from odoo.fields import Command
from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from ..const import STRIPE_API_BASE_PARAM

RUNS = 2


@tagged("post_install", "-at_install")
class TestPaymentPlanConcurrentCron(TransactionCase):
    stripe_emulator = True

    def setUp(self):
        super().setUp()
        base = os.environ.get("LEGAL_STRIPE_API_BASE")
        if not base:
            self.fail("the Stripe emulator is not running: run the tests through scripts/test")
        self.sdk = stripe.StripeClient("sk_test_emulator", base_addresses={"api": base})
        customer = self.sdk.v1.customers.create({"name": "Concurrent Plan Client"})
        card = self.sdk.v1.payment_methods.create(
            {
                "type": "card",
                "card": {
                    "number": "4242424242424242",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "cvc": "123",
                },
            }
        )
        self.sdk.v1.payment_methods.attach(card.id, {"customer": customer.id})
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            company = env.ref("base.main_company")
            if not company.chart_template:
                self.skipTest("the main company has no chart of accounts")
            params = env["ir.config_parameter"]
            self.old_base = params.get_param(STRIPE_API_BASE_PARAM)
            params.set_param(STRIPE_API_BASE_PARAM, base)
            journal = env["account.journal"].create(
                {"name": "Stripe Plans", "code": "STPL", "type": "bank", "company_id": company.id}
            )
            card_method = env.ref("payment.payment_method_card")
            card_method.active = True
            provider = env.ref("payment.payment_provider_stripe").copy(
                {
                    "name": "Stripe Plans",
                    "state": "test",
                    "journal_id": journal.id,
                    "company_id": company.id,
                    "stripe_secret_key": "sk_test_emulator",
                    "stripe_publishable_key": "pk_test_emulator",
                    "payment_method_ids": [Command.set(card_method.ids)],
                }
            )
            partner = env["res.partner"].create(
                {"name": "Concurrent Plan Client", "email": "plan.concurrent@example.com"}
            )
            invoice = env["account.move"].create(
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "invoice_line_ids": [
                        Command.create(
                            {"name": "Advice", "quantity": 1, "price_unit": 300.0, "tax_ids": []}
                        )
                    ],
                }
            )
            invoice.action_post()
            token = env["payment.token"].create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": card_method.id,
                    "partner_id": partner.id,
                    "payment_details": "4242",
                    "provider_ref": customer.id,
                    "stripe_payment_method": card.id,
                }
            )
            plan = env["legal.payment.plan"].create(
                {
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "invoice_ids": [Command.set(invoice.ids)],
                    "schedule_mode": "custom",
                    "instalment_ids": [
                        Command.create(
                            {"due_date": fields.Date.context_today(env.user), "amount": 300.0}
                        )
                    ],
                }
            )
            plan.action_send()
            plan.with_user(SUPERUSER_ID)._legal_accept(token, ip_address="203.0.113.10")
            self.ids = {
                "journal": journal.id,
                "provider": provider.id,
                "partner": partner.id,
                "invoice": invoice.id,
                "token": token.id,
                "plan": plan.id,
                "authorization": plan.authorization_id.id,
            }
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"force_delete": True})
            ids = self.ids
            plan = env["legal.payment.plan"].browse(ids["plan"])
            txs = plan.instalment_ids.transaction_ids
            payments = env["account.payment"].search([("payment_transaction_id", "in", txs.ids)])
            invoice = env["account.move"].browse(ids["invoice"])
            moves = invoice + txs.legal_fee_move_id
            (moves + payments.move_id).line_ids.remove_move_reconcile()
            payments.action_draft()
            payments.unlink()
            moves.filtered(lambda m: m.state == "posted").button_draft()
            moves.unlink()
            # An accepted authorization and a plan with payments are kept by design.
            cr.execute(SQL("DELETE FROM legal_payment_plan_attempt WHERE plan_id = %s", plan.id))
            cr.execute(
                SQL(
                    "DELETE FROM payment_transaction WHERE legal_plan_instalment_id IN %s",
                    tuple(plan.instalment_ids.ids),
                )
            )
            cr.execute(SQL("DELETE FROM legal_payment_plan WHERE id = %s", plan.id))
            cr.execute(
                SQL("DELETE FROM legal_payment_authorization WHERE id = %s", ids["authorization"])
            )
            env.invalidate_all()
            env["payment.token"].browse(ids["token"]).unlink()
            env["payment.provider"].browse(ids["provider"]).unlink()
            env["account.journal"].browse(ids["journal"]).unlink()
            env["res.partner"].browse(ids["partner"]).unlink()
            env["ir.config_parameter"].set_param(STRIPE_API_BASE_PARAM, self.old_base or False)
            cr.commit()  # pylint: disable=invalid-commit

    def test_two_cron_runs_at_once_charge_the_instalment_once(self):
        barrier = threading.Barrier(RUNS)
        errors = []

        def run():
            try:
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    barrier.wait()
                    env["legal.payment.plan"]._cron_charge_instalments()
            except Exception as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

        threads = [threading.Thread(target=run) for _i in range(RUNS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertFalse(errors)

        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            plan = env["legal.payment.plan"].browse(self.ids["plan"])
            instalment = plan.instalment_ids
            self.assertEqual(len(instalment.attempt_ids), 1)
            self.assertEqual(len(instalment.transaction_ids), 1)
            self.assertEqual(instalment.transaction_ids.state, "done")
            self.assertEqual(instalment.state, "paid")
            self.assertEqual(env["account.move"].browse(self.ids["invoice"]).amount_residual, 0)
            self.assertEqual(plan.state, "done")
        intents = self.sdk.v1.payment_intents.list().data
        self.assertEqual(len(intents), 1, "Stripe was asked for one charge")
        self.assertEqual(intents[0].amount, 30000)
