# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A top-up whose client authorized charging a stored payment method for the matter's trust
top-ups is charged through the trust provider (on the Stripe emulator), and e-mailed instead
when the charge is refused or fails."""

import threading

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.service.model import retrying
from odoo.tests import BaseCase, tagged
from odoo.tests.common import get_db_name
from odoo.tools import SQL

from odoo.addons.legal_payments.tests.test_stripe_emulator_flows import (
    CARD_DECLINED,
    CARD_OK,
    StripeEmulatorCase,
)


@tagged("post_install", "-at_install")
class TestRetainerAutomaticCharge(StripeEmulatorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.matter.write(
            {
                "retainer_enabled": True,
                "retainer_minimum_balance": 500.0,
                "retainer_topup_trigger": 300.0,
            }
        )
        cls.template = cls.env.ref("legal_retainers.mail_template_retainer_request")

    def _authorize(self, number=CARD_OK, max_amount=1000.0, provider=None):
        customer = self.sdk.v1.customers.create({"name": "Client Ann"})
        card = self._card(number)
        self.sdk.v1.payment_methods.attach(card.id, {"customer": customer.id})
        token = self.env["payment.token"].create(
            {
                "provider_id": (provider or self.stripe_trust).id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "partner_id": self.client_partner.id,
                "payment_details": number[-4:],
                "provider_ref": customer.id,
                "stripe_payment_method": card.id,
            }
        )
        authorization = self.env["legal.payment.authorization"].create(
            {
                "partner_id": self.client_partner.id,
                "token_id": token.id,
                "scope": "trust_topup",
                "matter_id": self.matter.id,
                "max_amount": max_amount,
            }
        )
        authorization.with_user(SUPERUSER_ID)._legal_accept(
            ip_address="203.0.113.9", user_agent="Test"
        )
        return authorization

    def _topup(self):
        """Automatic top-ups turned on with nothing in trust: a top-up of 500 is requested."""
        self.matter.retainer_auto_topup = True
        request = self.matter.retainer_request_ids.filtered(lambda r: r.kind == "topup")
        self.assertEqual(len(request), 1)
        self.assertEqual(request.amount, 500.0)
        return request

    def _emailed(self, request):
        return request.message_ids.filtered(lambda m: m.subject and request.name in m.subject)

    def test_authorized_topup_is_charged_into_trust_without_an_email(self):
        authorization = self._authorize()
        request = self._topup()
        self.assertEqual((request.state, request.autocharge_state), ("draft", "pending"))
        self.assertEqual(request.autocharge_authorization_id, authorization)
        request._cron_retainer_charge_topups(auto_commit=False)
        self.assertEqual((request.state, request.autocharge_state), ("paid", "charged"))
        tx = request.transaction_ids
        self.assertEqual(len(tx), 1)
        self.assertEqual((tx.operation, tx.state), ("offline", "done"))
        self.assertEqual(tx.provider_id, self.stripe_trust, "charged into trust")
        self.assertEqual(tx.legal_authorization_id, authorization)
        self.assertEqual(self.matter.trust_balance, 500.0)
        self.assertFalse(self._emailed(request), "nothing to ask the client for")
        # The cron again: nothing is charged twice.
        request._cron_retainer_charge_topups(auto_commit=False)
        self.assertEqual(len(request.transaction_ids), 1)
        self.assertEqual(self.matter.trust_balance, 500.0)

    def test_topup_of_a_matter_in_review_mode_waits_for_the_lawyer(self):
        self._authorize()
        self.matter.retainer_send_mode = "review"
        request = self._topup()
        self.assertEqual(request.state, "draft")
        self.assertFalse(request.autocharge_state)
        self.assertTrue(request.activity_ids, "the lawyer is asked to review it")
        request._cron_retainer_charge_topups(auto_commit=False)
        self.assertFalse(request.transaction_ids, "nothing charged before the review")

    def test_declined_charge_falls_back_to_the_emailed_request(self):
        self._authorize(CARD_DECLINED)
        request = self._topup()
        request._cron_retainer_charge_topups(auto_commit=False)
        self.assertEqual((request.state, request.autocharge_state), ("sent", "failed"))
        self.assertEqual(request.transaction_ids.state, "error")
        self.assertEqual(self.matter.trust_balance, 0.0)
        self.assertTrue(self._emailed(request), "the client gets the Pay Now e-mail")
        self.assertIn("could not be charged", " ".join(request.message_ids.mapped("body")))

    def test_authorization_revoked_before_the_charge_falls_back_to_the_email(self):
        authorization = self._authorize()
        request = self._topup()
        authorization.action_revoke()
        request._cron_retainer_charge_topups(auto_commit=False)
        self.assertEqual((request.state, request.autocharge_state), ("sent", "failed"))
        self.assertFalse(request.transaction_ids, "the gate refused before any charge")
        self.assertIn("revoked", " ".join(request.message_ids.mapped("body")))
        self.assertTrue(self._emailed(request))

    def test_topup_above_the_maximum_or_on_an_operating_method_is_emailed(self):
        self._authorize(max_amount=100.0)
        self._authorize(provider=self.stripe)
        request = self._topup()
        self.assertFalse(request.autocharge_state)
        self.assertEqual(request.state, "sent")
        self.assertTrue(self._emailed(request))


@tagged("post_install", "-at_install")
class TestRetainerAutomaticChargeConcurrency(BaseCase):
    """Two cron workers charging the same top-up at once charge it once: real, separate
    transactions on committed fixtures (Odoo's demo provider on the trust journal, so that
    charging needs no network), removed with SQL afterwards."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())
        with cls.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env.ref("base.main_company")
            journal = company._legal_default_trust_journal()
            client = env["res.partner"].create({"name": "Concurrent autocharge client"})
            matter = env["legal.matter"].create(
                {
                    "title": "Top-up charged twice at once",
                    "partner_id": client.id,
                    "company_id": company.id,
                    "retainer_enabled": True,
                    "retainer_minimum_balance": 500.0,
                    "retainer_topup_trigger": 300.0,
                }
            )
            provider = env.ref("payment.payment_provider_demo").copy(
                {
                    "name": "Concurrent autocharge trust (demo)",
                    "company_id": company.id,
                    "journal_id": journal.id,
                    "state": "test",
                }
            )
            token = env["payment.token"].create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": env.ref("payment_demo.payment_method_demo").id,
                    "partner_id": client.id,
                    "payment_details": "4242",
                    "provider_ref": "demo_concurrent_client",
                    "demo_simulated_state": "done",
                }
            )
            authorization = env["legal.payment.authorization"].create(
                {
                    "partner_id": client.id,
                    "token_id": token.id,
                    "scope": "trust_topup",
                    "matter_id": matter.id,
                    "company_id": company.id,
                    "max_amount": 1000.0,
                }
            )
            authorization.with_user(SUPERUSER_ID)._legal_accept(
                ip_address="203.0.113.10", user_agent="Test"
            )
            matter.retainer_auto_topup = True
            request = matter.retainer_request_ids
            assert request.autocharge_state == "pending", "a top-up to charge"
            cls.ids = {
                "client": client.id,
                "matter": matter.id,
                "provider": provider.id,
                "token": token.id,
                "authorization": authorization.id,
                "request": request.id,
            }
            cr.commit()  # pylint: disable=invalid-commit

    @classmethod
    def tearDownClass(cls):
        ids = cls.ids
        with cls.registry.cursor() as cr:
            cr.execute(
                SQL(
                    "SELECT move_id FROM account_move_line WHERE matter_id = %s"
                    " UNION SELECT id FROM account_move WHERE matter_id = %s",
                    ids["matter"],
                    ids["matter"],
                )
            )
            moves = [row[0] for row in cr.fetchall()]
            cr.execute(
                SQL("DELETE FROM payment_transaction WHERE provider_id = %s", ids["provider"])
            )
            cr.execute(SQL("DELETE FROM account_move_line WHERE move_id = ANY(%s)", moves))
            cr.execute(SQL("DELETE FROM account_move WHERE id = ANY(%s)", moves))
            cr.execute(
                SQL("DELETE FROM legal_retainer_request WHERE matter_id = %s", ids["matter"])
            )
            cr.execute(
                SQL("DELETE FROM legal_payment_authorization WHERE id = %s", ids["authorization"])
            )
            cr.execute(SQL("DELETE FROM payment_token WHERE id = %s", ids["token"]))
            cr.execute(
                SQL(
                    "DELETE FROM account_payment_method_line WHERE payment_provider_id = %s",
                    ids["provider"],
                )
            )
            cr.execute(SQL("DELETE FROM payment_provider WHERE id = %s", ids["provider"]))
            cr.execute(SQL("DELETE FROM legal_matter WHERE id = %s", ids["matter"]))
            cr.execute(SQL("DELETE FROM res_partner WHERE id = %s", ids["client"]))
        super().tearDownClass()

    def test_two_cron_workers_charge_a_topup_once(self):
        barrier = threading.Barrier(2)
        errors = []

        def worker():
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                barrier.wait()
                try:
                    retrying(
                        lambda: env["legal.retainer.request"]._cron_retainer_charge_topups(
                            auto_commit=False
                        ),
                        env,
                    )
                    cr.commit()  # pylint: disable=invalid-commit
                except Exception as exc:  # noqa: BLE001 - reported by the assertion
                    errors.append(repr(exc))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        self.assertEqual(errors, [])
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            request = env["legal.retainer.request"].browse(self.ids["request"])
            self.assertEqual(len(request.transaction_ids), 1, "charged once")
            self.assertEqual((request.state, request.autocharge_state), ("paid", "charged"))
            self.assertEqual(request.matter_id.trust_balance, 500.0)
