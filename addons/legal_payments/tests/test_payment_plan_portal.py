# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The client's payment plans in the portal: accept with a saved method, pay an instalment
with Odoo's demo provider (installed beside the addons by scripts/test), and nothing of
another client's plans."""

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

from freezegun import freeze_time

from odoo import SUPERUSER_ID, fields, http
from odoo.exceptions import AccessError
from odoo.fields import Command
from odoo.tests import HttpCase, JsonRpcException, tagged
from odoo.tools import hmac as hmac_tool
from odoo.tools import mute_logger

from .. import const
from .test_payment_plan import PaymentPlanCommon


@tagged("post_install", "-at_install")
class TestPaymentPlanPortal(PaymentPlanCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        demo = cls.env.ref("payment.payment_provider_demo", raise_if_not_found=False)
        if not demo or demo.sudo().module_id.state != "installed":
            raise AssertionError("payment_demo must be installed: run through scripts/test")
        # Odoo's demo provider, in the test company, paying into an operating bank journal.
        cls.demo = demo.sudo().copy(
            {
                "name": "Demo (plans)",
                "company_id": cls.env.company.id,
                "state": "test",
                "is_published": True,
                "journal_id": cls.operating_bank.id,
            }
        )
        cls.today = fields.Date.context_today(cls.env.user)
        cls.invoice_900 = cls.init_invoice(
            "out_invoice",
            partner=cls.client_partner,
            amounts=[900.0],
            post=True,
            taxes=[],
            currency=cls.currency,
        )
        cls.client_b = cls.env["res.partner"].create(
            {"name": "Client Bob", "email": "bob@example.com"}
        )
        cls.invoice_b = cls.init_invoice(
            "out_invoice",
            partner=cls.client_b,
            amounts=[600.0],
            post=True,
            taxes=[],
            currency=cls.currency,
        )
        portal = cls.env.ref("base.group_portal")
        cls.portal_a, cls.portal_b = (
            cls.env["res.users"]
            .with_context(no_reset_password=True)
            .create(
                {
                    "name": name,
                    "login": login,
                    "password": f"{login}-pass-1234",
                    "partner_id": partner.id,
                    "company_id": cls.env.company.id,
                    "company_ids": [Command.set(cls.env.company.ids)],
                    "groups_id": [Command.set(portal.ids)],
                }
            )
            for name, login, partner in (
                ("Ann portal", "plan_portal_a", cls.client_partner),
                ("Bob portal", "plan_portal_b", cls.client_b),
            )
        )
        cls.token_a = cls._demo_token(cls.client_partner, "4242")
        cls.token_b = cls._demo_token(cls.client_b, "1111")

    @classmethod
    def _demo_token(cls, partner, digits):
        return cls.env["payment.token"].create(
            {
                "provider_id": cls.demo.id,
                "payment_method_id": cls.env.ref("payment.payment_method_card").id,
                "partner_id": partner.id,
                "payment_details": digits,
                "provider_ref": f"demo-{digits}",
                "demo_simulated_state": "done",
            }
        )

    def _sent_plan(self, partner=None, invoice=None):
        plan = self.env["legal.payment.plan"].create(
            {
                "partner_id": (partner or self.client_partner).id,
                "invoice_ids": [Command.set((invoice or self.invoice_900).ids)],
                "instalment_number": 3,
                "frequency": "monthly",
                "date_start": self.today,
            }
        )
        plan.action_generate_schedule()
        plan.action_send()
        return plan

    def _accept_as(self, login, plan, token, consent=None):
        data = {
            "csrf_token": http.Request.csrf_token(self),
            "token_id": token.id,
            "access_token": plan.access_token,
        }
        if consent:
            data["consent_id"] = consent.id
        return self.url_open(
            f"/my/payment_plans/{plan.id}/accept", data=data, allow_redirects=False
        )

    def test_client_accepts_the_plan_in_the_portal_with_a_saved_method(self):
        plan = self._sent_plan()
        self.authenticate("plan_portal_a", "plan_portal_a-pass-1234")
        page = self.url_open(plan.get_portal_url())
        self.assertEqual(page.status_code, 200)
        self.assertIn(plan.name, page.text)
        self.assertIn("300.00", page.text)
        self.assertIn(self.token_a.display_name, page.text)
        self.assertNotIn(self.token_b.display_name, page.text)
        self.assertIn(
            f"I, {self.client_partner.name}, authorize", page.text, "the consent text to accept"
        )
        shown = self.env["legal.payment.consent"]._legal_current(plan.company_id)
        self.assertIn(f'name="consent_id" value="{shown.id}"', page.text)
        # The firm publishes new wording while the client reads: nothing is accepted.
        newer = self.env["legal.payment.consent"].create(
            {
                "name": "plans-v2",
                "company_id": plan.company_id.id,
                "body": "I, {client}, authorize {firm}: {method} {scope} {maximum} {start} {end}",
            }
        )
        response = self._accept_as("plan_portal_a", plan, self.token_a, consent=shown)
        self.assertIn("error=", response.headers["Location"])
        self.assertEqual(plan.state, "awaiting")
        response = self._accept_as("plan_portal_a", plan, self.token_a, consent=newer)
        self.assertEqual(response.status_code, 303)
        self.assertIn("message=accepted", response.headers["Location"])
        auth = plan.authorization_id
        self.assertEqual(plan.state, "running")
        self.assertEqual((auth.state, auth.token_id, auth.plan_id), ("active", self.token_a, plan))
        self.assertEqual(auth.accepted_by_id, self.portal_a)
        self.assertTrue(auth.accepted_ip)
        self.assertTrue(auth.accepted_user_agent)
        self.assertIn(self.client_partner.name, auth.consent_text)
        listing = self.url_open("/my/payment_plans")
        self.assertIn(plan.name, listing.text)
        home = self.url_open("/my/home")
        self.assertIn("/my/payment_plans", home.text)
        counters = self.make_jsonrpc_request("/my/counters", {"counters": ["payment_plan_count"]})
        self.assertEqual(counters["payment_plan_count"], 1)

    def test_client_pays_a_future_instalment_and_it_is_not_charged_again(self):
        plan = self._sent_plan()
        plan.with_user(SUPERUSER_ID)._legal_accept(self.token_a)
        first, second, third = plan.instalment_ids
        self.authenticate("plan_portal_a", "plan_portal_a-pass-1234")
        page = self.url_open(plan.get_portal_url())
        self.assertIn(f"/instalments/{third.id}/pay", page.text)
        pay = self.url_open(
            f"/my/payment_plans/{plan.id}/instalments/{third.id}/pay"
            f"?access_token={plan.access_token}",
            allow_redirects=False,
        )
        location = pay.headers["Location"]
        self.assertIn("/payment/pay?", location)
        form = self.url_open(location)
        self.assertEqual(form.status_code, 200)
        self.assertIn(f"/legal/plan/transaction/{third.id}", form.text)
        self.assertIn(f'data-provider-id="{self.demo.id}"', form.text)
        self.assertNotIn(f'data-provider-id="{self.stripe_trust.id}"', form.text)
        access_token = parse_qs(urlparse(location).query)["access_token"][0]
        self.make_jsonrpc_request(
            f"/legal/plan/transaction/{third.id}",
            {
                "access_token": access_token,
                "amount": 300.0,
                "provider_id": self.demo.id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "token_id": None,
                "flow": "direct",
                "tokenization_requested": False,
                "landing_route": plan.get_portal_url(),
            },
        )
        tx = third.transaction_ids
        self.assertEqual(
            (tx.amount, tx.invoice_ids, tx.operation), (300.0, self.invoice_900, "online_direct")
        )
        self.make_jsonrpc_request(
            "/payment/demo/simulate_payment",
            {"reference": tx.reference, "payment_details": "4242", "simulated_state": "done"},
        )
        tx._post_process()  # what the status poll of the landing page does
        self.assertEqual(third.state, "paid")
        self.assertEqual(self.invoice_900.amount_residual, 600.0)
        self.assertEqual((first.amount_due, second.amount_due), (300.0, 300.0))
        # Later, the cron charges the first two only.
        with freeze_time(third.due_date + timedelta(days=1)):
            self.env["legal.payment.plan"]._cron_charge_instalments(auto_commit=False)
        self.assertEqual(len(third.transaction_ids), 1)
        self.assertEqual(first.transaction_ids.amount, 300.0)
        self.assertEqual(second.transaction_ids.amount, 300.0)
        self.assertEqual(self.invoice_900.amount_residual, 0.0)
        self.assertEqual(plan.state, "done")

    def test_card_surcharge_of_a_portal_payment_is_not_counted_as_paid_on_the_plan(self):
        self.demo.write({"legal_surcharge_enabled": True, "legal_surcharge_percent": 3.0})
        plan = self._sent_plan()
        plan.with_user(SUPERUSER_ID)._legal_accept(self.token_a)
        third = plan.instalment_ids[-1]
        self.authenticate("plan_portal_a", "plan_portal_a-pass-1234")
        self.make_jsonrpc_request(
            f"/legal/plan/transaction/{third.id}",
            {
                "access_token": self._generate_test_access_token(
                    self.client_partner.id,
                    300.0,
                    self.currency.id,
                    const.TOKEN_PURPOSE_INSTALMENT,
                    third.id,
                ),
                "amount": 300.0,
                "provider_id": self.demo.id,
                "payment_method_id": self.env.ref("payment.payment_method_card").id,
                "token_id": None,
                "flow": "direct",
                "tokenization_requested": False,
                "landing_route": plan.get_portal_url(),
            },
        )
        tx = third.transaction_ids
        self.assertEqual((tx.amount, tx.legal_surcharge_amount), (309.0, 9.0))
        tx._set_done()
        tx._post_process()
        self.assertEqual((third.amount_paid, third.amount_due, third.state), (300.0, 0.0, "paid"))
        self.assertEqual(self.invoice_900.amount_residual, 600.0)
        self.assertEqual(plan.instalment_ids.mapped("amount_due"), [300.0, 300.0, 0.0])

    @mute_logger("odoo.http")
    def test_another_clients_plan_cannot_be_opened_accepted_paid_nor_read(self):
        plan_a = self._sent_plan()
        plan_b = self._sent_plan(partner=self.client_b, invoice=self.invoice_b)
        inst_b = plan_b.instalment_ids[0]
        self.authenticate("plan_portal_a", "plan_portal_a-pass-1234")
        for url in (
            f"/my/payment_plans/{plan_b.id}",
            f"/my/payment_plans/{plan_b.id}?access_token=forged",
            f"/my/payment_plans/{plan_b.id}/instalments/{inst_b.id}/pay",
        ):
            page = self.url_open(url, allow_redirects=False)
            self.assertEqual(page.status_code, 303, url)
            self.assertNotIn("/payment/pay", page.headers["Location"], url)
            self.assertNotIn(plan_b.name, page.text, url)
        listing = self.url_open("/my/payment_plans")
        self.assertIn(plan_a.name, listing.text)
        self.assertNotIn(plan_b.name, listing.text)
        # Accepting B's plan, even with B's own access token and payment method: refused.
        response = self._accept_as("plan_portal_a", plan_b, self.token_b)
        self.assertEqual(response.headers["Location"].split("?")[0].rstrip("/")[-3:], "/my")
        self.assertEqual(plan_b.state, "awaiting")
        self.assertFalse(plan_b.authorization_ids)
        # A's own payment method does not accept A's plan for B either, nor B's method A's.
        response = self._accept_as("plan_portal_a", plan_a, self.token_b)
        self.assertIn("error=", response.headers["Location"])
        self.assertEqual(plan_a.state, "awaiting")
        # Paying B's instalment with a payment access token of A's: refused, nothing created.
        plan_b.with_user(SUPERUSER_ID)._legal_accept(self.token_b)
        with self.assertRaises(JsonRpcException):
            self.make_jsonrpc_request(
                f"/legal/plan/transaction/{inst_b.id}",
                {
                    "access_token": self._generate_test_access_token(
                        self.client_partner.id,
                        200.0,
                        self.currency.id,
                        const.TOKEN_PURPOSE_INSTALMENT,
                        inst_b.id,
                    ),
                    "amount": 200.0,
                    "provider_id": self.demo.id,
                    "payment_method_id": self.env.ref("payment.payment_method_card").id,
                    "token_id": None,
                    "flow": "direct",
                    "tokenization_requested": False,
                    "landing_route": "/my",
                },
            )
        self.assertFalse(inst_b.transaction_ids)
        # Over RPC: B's plan, instalments and charge attempts are not readable by A.
        Plan = self.env["legal.payment.plan"].with_user(self.portal_a)
        self.assertEqual(Plan.search([]), plan_a)
        with self.assertRaises(AccessError):
            plan_b.with_user(self.portal_a).read(["amount_total"])
        with self.assertRaises(AccessError):
            inst_b.with_user(self.portal_a).read(["amount"])
        with self.assertRaises(AccessError):
            self.env["legal.payment.plan.attempt"].with_user(self.portal_a).search([])
        rpc = self.make_jsonrpc_request(
            "/web/dataset/call_kw",
            {
                "model": "legal.payment.plan",
                "method": "search_read",
                "args": [[]],
                "kwargs": {"fields": ["name"]},
            },
        )
        self.assertEqual([row["id"] for row in rpc], plan_a.ids)

    def _generate_test_access_token(self, *values):
        """The payment access token the payment form would carry for ``values``."""
        return hmac_tool(
            self.env(su=True), "generate_access_token", "|".join(str(v) for v in values)
        )
