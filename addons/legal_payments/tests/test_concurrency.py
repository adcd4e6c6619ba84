# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Concurrent webhook deliveries and post-processing, with real separate cursors on committed
fixtures (removed afterwards). The fee comes from a recorded Stripe balance transaction."""

import threading
from unittest.mock import patch

import stripe
from psycopg2 import errors as pg_errors

from odoo import SUPERUSER_ID, api
from odoo.fields import Command
from odoo.tests import TransactionCase, tagged

from .common import LegalPaymentsCommon, RecordedStripeHttpClient, recorded_card_payment

SECRET = "whsec_concurrency_test"
DELIVERIES = 20


@tagged("post_install", "-at_install")
class TestConcurrentDeliveries(TransactionCase):
    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env.ref("base.main_company")
            if not company.chart_template:
                self.skipTest("the main company has no chart of accounts")
            journal = env["account.journal"].create(
                {
                    "name": "Stripe Concurrency",
                    "code": "STCC",
                    "type": "bank",
                    "company_id": company.id,
                }
            )
            provider = env.ref("payment.payment_provider_stripe").copy(
                {
                    "name": "Stripe Concurrency",
                    "state": "test",
                    "journal_id": journal.id,
                    "company_id": company.id,
                    "stripe_secret_key": "sk_test_concurrency",
                    "stripe_publishable_key": "pk_test_concurrency",
                    "stripe_webhook_secret": SECRET,
                }
            )
            user = env["res.users"].create(
                {
                    "name": "Concurrency Lawyer",
                    "login": "concurrency_lawyer",
                    "email": "concurrency.lawyer@example.com",
                }
            )
            partner = env["res.partner"].create({"name": "Concurrency Client"})
            invoice = env["account.move"].create(
                {
                    "move_type": "out_invoice",
                    "partner_id": partner.id,
                    "invoice_user_id": user.id,
                    "company_id": company.id,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": "Advice",
                                "quantity": 1,
                                "price_unit": 500.0,
                                "tax_ids": [],
                            }
                        )
                    ],
                }
            )
            invoice.action_post()
            tx = env["payment.transaction"].create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": env.ref("payment.payment_method_card").id,
                    "reference": "CONCURRENCY-TX-1",
                    "amount": invoice.amount_residual,
                    "currency_id": invoice.currency_id.id,
                    "partner_id": partner.id,
                    "operation": "online_direct",
                    "invoice_ids": [Command.set(invoice.ids)],
                }
            )
            self.ids = {
                "journal": journal.id,
                "provider": provider.id,
                "user": user.id,
                "partner": partner.id,
                "invoice": invoice.id,
                "tx": tx.id,
            }
            # Only this provider's secret may sign during the test.
            self.other_secrets = {
                p.id: p.stripe_webhook_secret
                for p in env["payment.provider"].search(
                    [("code", "=", "stripe"), ("id", "!=", provider.id)]
                )
            }
            cr.commit()  # pylint: disable=invalid-commit
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"force_delete": True})
            ids = self.ids
            tx = env["payment.transaction"].browse(ids["tx"])
            env["legal.stripe.event"].search([("provider_id", "=", ids["provider"])]).unlink()
            env["mail.mail"].search([("subject", "ilike", tx.reference)]).unlink()
            payments = env["account.payment"].search([("payment_transaction_id", "=", tx.id)])
            moves = tx.legal_fee_move_id + env["account.move"].browse(ids["invoice"])
            (moves + payments.move_id).line_ids.remove_move_reconcile()
            payments.action_draft()
            payments.unlink()
            moves.filtered(lambda m: m.state == "posted").button_draft()
            moves.unlink()
            tx.unlink()
            env["payment.provider"].browse(ids["provider"]).unlink()
            env["account.journal"].browse(ids["journal"]).unlink()
            env["res.users"].browse(ids["user"]).unlink()
            env["res.partner"].browse(ids["partner"]).unlink()
            cr.commit()  # pylint: disable=invalid-commit

    def _run_threads(self, target, count):
        barrier = threading.Barrier(count)
        errors = []

        def run():
            try:
                barrier.wait()
                target()
            except Exception as exc:  # noqa: BLE001 - reported by the test
                errors.append(exc)

        threads = [threading.Thread(target=run) for _i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        return errors

    def test_twenty_concurrent_deliveries_give_one_payment_one_entry_one_email(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            tx = env["payment.transaction"].browse(self.ids["tx"])
            event = LegalPaymentsCommon._event(
                "payment_intent.succeeded",
                LegalPaymentsCommon._payment_intent(tx),
                event_id="evt_concurrency_1",
            )
        payload, header = LegalPaymentsCommon._signed(event, secret=SECRET)
        statuses = []

        def deliver():
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                statuses.append(env["legal.stripe.event"]._legal_receive(payload, header))

        errors = self._run_threads(deliver, DELIVERIES)
        self.assertFalse(errors)
        self.assertEqual(statuses, [200] * DELIVERIES)

        # Three inbox workers and two status polls race on the same transaction.
        http_client = RecordedStripeHttpClient(recorded_card_payment(amount=50000, fee=1480))

        def _client(provider):
            return stripe.StripeClient("sk_test_recorded", http_client=http_client)

        def work(index):
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                if index < 3:
                    env["legal.stripe.event"]._cron_process_stripe_events()
                    return
                for _attempt in range(10):
                    try:
                        env["payment.transaction"].browse(self.ids["tx"])._post_process()
                        cr.commit()  # pylint: disable=invalid-commit
                        return
                    except (pg_errors.SerializationFailure, pg_errors.LockNotAvailable):
                        cr.rollback()
                        env.invalidate_all()

        counter = iter(range(5))
        lock = threading.Lock()

        def next_work():
            with lock:
                index = next(counter)
            work(index)

        Provider = type(self.env["payment.provider"])
        with patch.object(Provider, "_legal_stripe_client", _client):
            errors = self._run_threads(next_work, 5)
            self.assertFalse(errors)
            with self.registry.cursor() as cr:  # Whatever a worker skipped.
                api.Environment(cr, SUPERUSER_ID, {})[
                    "legal.stripe.event"
                ]._cron_process_stripe_events()

        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            tx = env["payment.transaction"].browse(self.ids["tx"])
            events = env["legal.stripe.event"].search([("stripe_event_id", "=", event["id"])])
            self.assertEqual(len(events), 1)
            self.assertEqual(events.state, "done")
            self.assertEqual(tx.state, "done")
            payments = env["account.payment"].search([("payment_transaction_id", "=", tx.id)])
            self.assertEqual(len(payments), 1)
            self.assertEqual(env["account.move"].browse(self.ids["invoice"]).payment_state, "paid")
            fee_moves = env["account.move"].search([("ref", "=", f"Stripe fee {tx.reference}")])
            self.assertEqual(len(fee_moves), 1)
            mails = env["mail.mail"].search(
                [
                    ("subject", "ilike", tx.reference),
                    ("email_to", "ilike", "concurrency.lawyer@example.com"),
                ]
            )
            self.assertEqual(len(mails), 1)
