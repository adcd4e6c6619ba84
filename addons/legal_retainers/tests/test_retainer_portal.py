from odoo.exceptions import AccessError
from odoo.fields import Command
from odoo.tests import HttpCase, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import hmac as hmac_tool

from odoo.addons.legal_retainers.controllers.portal import TOKEN_PURPOSE_RETAINER

from .common import LegalRetainersCommon


@tagged("post_install", "-at_install")
class TestRetainerPortal(LegalRetainersCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.request_a = cls.matter_a.action_request_retainer()
        cls.matter_b.retainer_enabled = True
        cls.request_b = cls.matter_b.action_request_retainer(amount=400.0)
        portal = cls.env.ref("base.group_portal")
        cls.portal_a = cls.env["res.users"].create(
            {
                "name": "Client A portal",
                "login": "retainer_portal_a",
                "password": "retainer_portal_a-1234",
                "partner_id": cls.client_a.id,
                "company_id": cls.company.id,
                "company_ids": [Command.set(cls.company.ids)],
                "groups_id": [Command.set(portal.ids)],
            }
        )

    def test_client_sees_the_amount_due_and_the_pay_link_from_the_email(self):
        page = self.url_open(self.request_a.get_portal_url())
        self.assertEqual(page.status_code, 200)
        self.assertIn("1,000.00", page.text)
        self.assertIn(f"/my/retainers/{self.request_a.id}/pay", page.text)
        pay = self.url_open(
            f"/my/retainers/{self.request_a.id}/pay?access_token={self.request_a.access_token}",
            allow_redirects=False,
        )
        self.assertIn("/payment/pay?", pay.headers["Location"])
        self.assertIn(f"legal_retainer_request_id={self.request_a.id}", pay.headers["Location"])

    def test_client_chooses_to_pay_part_of_the_request(self):
        page = self.url_open(self.request_a.get_portal_url())
        self.assertIn("Or pay part of it now", page.text)
        pay = self.url_open(
            f"/my/retainers/{self.request_a.id}/pay?access_token={self.request_a.access_token}"
            "&amount=900",
            allow_redirects=False,
        )
        location = pay.headers["Location"]
        self.assertIn("/payment/pay?", location)
        self.assertIn("amount=900.0", location)
        form = self.url_open(location)
        self.assertEqual(form.status_code, 200)
        self.assertIn("900.00", form.text)

    def test_part_payment_above_the_amount_due_or_not_positive_is_refused(self):
        for amount in ("1000.01", "0", "-5", "abc"):
            pay = self.url_open(
                f"/my/retainers/{self.request_a.id}/pay?"
                f"access_token={self.request_a.access_token}&amount={amount}",
                allow_redirects=False,
            )
            location = pay.headers["Location"]
            self.assertNotIn("/payment/pay", location, amount)
            self.assertIn("error=amount", location, amount)
        page = self.url_open(location)
        self.assertIn("no more than what is due", page.text)

    def test_payment_form_offers_trust_providers_only(self):
        operating = self.trust_provider.sudo().copy(
            {
                "name": "Operating (demo)",
                "journal_id": self.operating_journal.id,
                "state": "test",
                "is_published": True,
            }
        )
        pay = self.url_open(
            f"/my/retainers/{self.request_a.id}/pay?access_token={self.request_a.access_token}",
            allow_redirects=False,
        )
        form = self.url_open(pay.headers["Location"])
        self.assertEqual(form.status_code, 200)
        self.assertIn(f'data-provider-id="{self.trust_provider.id}"', form.text)
        self.assertNotIn(f'data-provider-id="{operating.id}"', form.text)
        self.assertIn(f"/legal/retainer/transaction/{self.request_a.id}", form.text)

    def test_matter_page_lists_open_requests_and_trust_balance(self):
        self.authenticate("retainer_portal_a", "retainer_portal_a-1234")
        page = self.url_open(f"/my/matters/{self.matter_a.id}")
        self.assertIn(self.request_a.name, page.text)
        self.assertNotIn(self.request_b.name, page.text)

    def test_another_clients_request_shows_nothing(self):
        forged = self.url_open(f"/my/retainers/{self.request_b.id}?access_token=forged")
        self.assertNotIn(self.request_b.name, forged.text)
        self.authenticate("retainer_portal_a", "retainer_portal_a-1234")
        page = self.url_open(f"/my/retainers/{self.request_b.id}")
        self.assertNotIn(self.request_b.name, page.text)
        Request = self.env["legal.retainer.request"].with_user(self.portal_a)
        self.assertEqual(Request.search([]), self.request_a)
        with self.assertRaises(AccessError):
            self.request_b.with_user(self.portal_a).read(["amount_due"])
        pay = self.url_open(f"/my/retainers/{self.request_b.id}/pay", allow_redirects=False)
        self.assertNotIn("/payment/pay", pay.headers["Location"])
        # Client A's own payment token does not pay client B's request.
        with self.assertRaises(JsonRpcException), self.assertLogs("odoo.http", "WARNING") as logs:
            self._route(400.0, request=self.request_b)
        self.assertIn("access token", logs.output[0])
        self.assertFalse(self.request_b.transaction_ids)

    def test_missing_token_shows_nothing_and_pays_nothing(self):
        for url in (
            f"/my/retainers/{self.request_a.id}",
            f"/my/retainers/{self.request_a.id}/pay",
            f"/my/retainers/{self.request_a.id}/pay?access_token=",
        ):
            page = self.url_open(url, allow_redirects=False)
            self.assertEqual(page.status_code, 303, url)
            self.assertNotIn("/payment/pay", page.headers["Location"])
            self.assertNotIn(self.request_a.name, page.text)

    def test_client_lists_its_requests_with_the_trust_balance(self):
        self.request_a.matter_id.trust_deposit(250.0)
        self.authenticate("retainer_portal_a", "retainer_portal_a-1234")
        page = self.url_open("/my/retainers")
        self.assertEqual(page.status_code, 200)
        self.assertIn(self.request_a.name, page.text)
        self.assertIn("250.00", page.text)
        self.assertNotIn(self.request_b.name, page.text)
        self.assertIn(f"/my/retainers/{self.request_a.id}/pay", page.text)
        counters = self.make_jsonrpc_request("/my/counters", {"counters": ["retainer_count"]})
        self.assertEqual(counters["retainer_count"], 1)

    def test_open_requests_come_first_across_pages(self):
        # A page of newer, cancelled requests of the same client: the open one, older, still
        # leads the first page (sorted by the database before the page is cut).
        self.matter_a2.retainer_enabled = True
        for _i in range(20):
            self.matter_a2.action_request_retainer(amount=100.0).action_cancel()
        self.authenticate("retainer_portal_a", "retainer_portal_a-1234")
        first = self.url_open("/my/retainers")
        self.assertIn(self.request_a.name, first.text)
        self.assertIn("/my/retainers/page/2", first.text)
        second = self.url_open("/my/retainers/page/2")
        self.assertNotIn(self.request_a.name, second.text)

    def test_cancelled_request_cannot_be_paid(self):
        self.request_a.action_cancel()
        pay = self.url_open(
            f"/my/retainers/{self.request_a.id}/pay?access_token={self.request_a.access_token}",
            allow_redirects=False,
        )
        self.assertNotIn("/payment/pay", pay.headers["Location"])
        with self.assertRaises(JsonRpcException), self.assertLogs("odoo.http", "WARNING"):
            self._route(100.0)
        self.assertFalse(self.request_a.transaction_ids)

    def test_transaction_route_refuses_an_operating_provider(self):
        operating = self.trust_provider.sudo().copy(
            {"name": "Operating (demo)", "journal_id": self.operating_journal.id, "state": "test"}
        )
        with self.assertRaises(JsonRpcException), self.assertLogs("odoo.http", "WARNING") as logs:
            self._route(100.0, provider=operating)
        self.assertIn("trust", logs.output[0])
        self.assertFalse(self.request_a.transaction_ids)

    def _route(self, amount, provider=None, request=None):
        """Call the retainer transaction route as the payment form does, with client A's
        payment access token for ``amount``."""
        token = hmac_tool(
            self.env(su=True),
            "generate_access_token",
            f"{self.client_a.id}|{amount}|{self.request_a.currency_id.id}"
            f"|{TOKEN_PURPOSE_RETAINER}|{(request or self.request_a).id}",
        )
        return self.make_jsonrpc_request(
            f"/legal/retainer/transaction/{(request or self.request_a).id}",
            {
                "access_token": token,
                "amount": amount,
                "provider_id": (provider or self.trust_provider).id,
                "payment_method_id": self.demo_method.id,
                "token_id": None,
                "flow": "direct",
                "tokenization_requested": False,
                "landing_route": "/my",
            },
        )

    def test_transaction_route_refuses_more_than_due_and_accepts_a_part(self):
        with self.assertRaises(JsonRpcException), self.assertLogs("odoo.http", "WARNING") as logs:
            self._route(1500.0)
        self.assertIn("not payable", logs.output[0])
        self.assertFalse(self.request_a.transaction_ids)
        self._route(600.0)
        tx = self.request_a.transaction_ids
        self.assertEqual((tx.amount, tx.legal_matter_id), (600.0, self.matter_a))
        self.assertTrue(tx.reference.startswith(self.request_a.name), tx.reference)
