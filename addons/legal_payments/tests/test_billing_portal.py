# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The client billing portal over HTTP, with two portal clients.

Odoo renders reports as HTML when tests run (``test_enable``): the statement route then
returns the HTML of the PDF; ``test_billing_statement`` renders a real PDF.
"""

from odoo.fields import Command
from odoo.tests import HttpCase, JsonRpcException, tagged
from odoo.tools import mute_logger

from .billing_common import LegalBillingCommon


@tagged("post_install", "-at_install")
class TestBillingPortal(LegalBillingCommon, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        portal = cls.env.ref("base.group_portal")
        cls.contact_b = cls.env["res.partner"].create(
            {"name": "Bob of B", "parent_id": cls.client_b.id, "email": "bob@example.com"}
        )
        cls.user_a, cls.user_b = cls.env["res.users"].create(
            [
                {
                    "name": partner.name,
                    "login": login,
                    "password": login + "-pass-1234",
                    "partner_id": partner.id,
                    "company_id": cls.company.id,
                    "company_ids": [Command.set(cls.company.ids)],
                    "groups_id": [Command.set(portal.ids)],
                }
                for partner, login in ((cls.contact_a, "portal_a"), (cls.contact_b, "portal_b"))
            ]
        )

    def _login(self, user):
        self.authenticate(user.login, user.login + "-pass-1234")

    def _get(self, url, **kw):
        response = self.url_open(url, **kw)
        return response, response.text

    # === Pages === #

    def test_billing_page_shows_the_clients_own_figures(self):
        self._login(self.user_a)
        response, html = self._get("/my/billing")
        self.assertEqual(response.status_code, 200)
        self.assertIn('$\xa0<span class="oe_currency_value">1,100.00</span>', html)
        self.assertIn('$\xa0<span class="oe_currency_value">150.00</span>', html)
        self.assertIn(self.matter_a.name, html)
        self.assertIn("3,300.00", html)
        self.assertIn("800.00", html)
        self.assertIn(self.invoice_3.name, html)
        self.assertIn('id="legal_billing_next_instalment"', html)
        self.assertIn('href="/my/billing/history"', html)
        self.assertNotIn(self.invoice_b.name, html)
        self.assertNotIn(self.matter_b.name, html)
        self.assertNotIn("777.00", html)
        # Breadcrumbs, and the entry on the portal home.
        self.assertIn("breadcrumb-item active", html)
        _response, home = self._get("/my/home")
        self.assertIn('href="/my/billing"', home)
        counters = self.make_jsonrpc_request("/my/counters", {"counters": ["legal_billing_count"]})
        self.assertEqual(counters, {"legal_billing_count": 1})

    def test_billing_page_needs_a_login(self):
        response = self.url_open("/my/billing", allow_redirects=False)
        self.assertEqual(response.status_code, 303)
        self.assertIn("/web/login", response.headers["Location"])

    def test_history_filters_and_pages(self):
        self._login(self.user_a)
        _response, html = self._get("/my/billing/history")
        self.assertEqual(html.count("o_legal_history_row"), 12, "one page of 20 holds them all")
        self.assertNotIn(self.invoice_b.name, html)
        _response, html = self._get("/my/billing/history?kind=invoice")
        self.assertEqual(html.count("o_legal_history_row"), 3)
        self.assertEqual(html.count("o_legal_history_invoice"), 3)
        _response, html = self._get(
            f"/my/billing/history?date_from={self.date_from}&date_to={self.date_to}"
            f"&matter={self.matter_a2.id}"
        )
        self.assertEqual(html.count("o_legal_history_row"), 2)
        self.assertIn("Top-up", html)
        # Another client's matter: refused, nothing of it shown.
        _response, html = self._get(f"/my/billing/history?matter={self.matter_b.id}")
        self.assertIn("not one of the client", html)
        self.assertNotIn("o_legal_history_row", html)
        self.assertNotIn("B&#39;s deposit", html)
        self.assertNotIn(self.matter_b.name, html)

    def test_history_pager(self):
        for index in range(20):
            self._billing_invoice(self.matter_a, 10.0 + index, self._day(5))
        self._login(self.user_a)
        _response, page_1 = self._get("/my/billing/history?kind=invoice")
        self.assertEqual(page_1.count("o_legal_history_row"), 20)
        self.assertIn("/my/billing/history/page/2?kind=invoice", page_1)
        _response, page_2 = self._get("/my/billing/history/page/2?kind=invoice")
        self.assertEqual(page_2.count("o_legal_history_row"), 3)
        self.assertIn(self.invoice_1.name, page_2, "the oldest on the last page")
        self.assertNotIn(self.invoice_1.name, page_1)

    def test_statement_download_is_the_clients_own(self):
        self._login(self.user_a)
        response, html = self._get(
            f"/my/billing/statement?date_from={self.date_from}&date_to={self.date_to}"
            f"&partner_id={self.client_b.id}"
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("attachment;", response.headers["Content-Disposition"])
        self.assertIn("Statement of Account", html)
        self.assertIn("Client A", html)
        self.assertIn(self.invoice_2.name, html)
        self.assertNotIn(self.invoice_b.name, html, "an id in the URL is never used")
        # The portal's form posts the period (with its CSRF token).
        response = self.url_open(
            "/my/billing/statement",
            data={
                "date_from": str(self.date_from),
                "date_to": str(self.date_to),
                "csrf_token": self._csrf_token(),
            },
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn(self.invoice_2.name, response.text)
        response = self.url_open(
            f"/my/billing/statement?date_from={self.date_to}&date_to={self.date_from}",
            allow_redirects=False,
        )
        self.assertEqual(response.status_code, 303)
        self.assertIn("error=period", response.headers["Location"])

    def test_email_me_this_statement_queues_it_to_the_user(self):
        self._login(self.user_a)
        period = {"date_from": str(self.date_from), "date_to": str(self.date_to)}
        with mute_logger("odoo.http"):
            refused = self.url_open("/my/billing/statement/send", data=period)
        self.assertEqual(refused.status_code, 400, "no CSRF token, no e-mail")
        Mail = self.env["mail.mail"].sudo()
        self.assertFalse(Mail.search([("recipient_ids", "in", self.contact_a.ids)]))
        response = self.url_open(
            "/my/billing/statement/send",
            data=dict(period, csrf_token=self._csrf_token()),
            allow_redirects=False,
        )
        self.assertEqual(response.status_code, 303)
        self.assertIn("sent=1", response.headers["Location"])
        mail = Mail.search([("recipient_ids", "in", self.contact_a.ids)])
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.state, "outgoing", "through the mail queue")
        self.assertEqual(mail.res_id, self.client_a.id)
        self.assertIn(self.invoice_2.name, mail.attachment_ids.raw.decode())
        sent = self.env["legal.billing.statement.sent"].search([("kind", "=", "portal")])
        self.assertEqual(sent.email_to, "alice@example.com")
        # Client B cannot download A's attachment by guessing its id.
        self._login(self.user_b)
        response = self.url_open(f"/web/content/{mail.attachment_ids.id}?download=true")
        self.assertIn(response.status_code, (403, 404))
        self.assertNotIn(self.invoice_2.name, response.text)

    def _csrf_token(self):
        _response, html = self._get("/my/billing")
        marker = 'name="csrf_token" value="'
        start = html.index(marker) + len(marker)
        return html[start : html.index('"', start)]

    # === Another client's data: URLs and RPC === #

    def test_client_b_never_sees_client_a(self):
        self._login(self.user_b)
        _response, html = self._get("/my/billing")
        self.assertIn("999.00", html)
        self.assertIn(self.matter_b.name, html)
        for name in (self.invoice_1.name, self.invoice_2.name, self.matter_a.name):
            self.assertNotIn(name, html)
        _response, html = self._get(f"/my/billing/history?matter={self.matter_a.id}")
        self.assertNotIn("o_legal_history_row", html)
        self.assertNotIn("Expert report", html)
        # The back-office report route, with A's id: refused.
        for url in (
            f"/report/pdf/legal_payments.report_billing_statement/{self.client_a.id}",
            f"/report/html/legal_payments.report_billing_statement/{self.client_a.id}",
        ):
            with mute_logger("odoo.http", "odoo.addons.web.controllers.report"):
                response = self.url_open(url)
            self.assertNotEqual(response.status_code, 200, url)
            self.assertNotIn(self.invoice_2.name, response.text)

    @mute_logger("odoo.http")
    def test_client_b_cannot_read_client_a_over_rpc(self):
        self._login(self.user_b)

        def call(model, method, *args, **kwargs):
            return self.make_jsonrpc_request(
                "/web/dataset/call_kw",
                {"model": model, "method": method, "args": list(args), "kwargs": kwargs},
            )

        for model, method, args in (
            ("legal.billing.statement", "_statement", [self.client_a.id, 1, "2026-01-01"]),
            ("legal.billing.statement", "_billing_summary", [self.client_a.id, 1]),
            ("legal.billing.statement.sent", "search_read", [[]]),
            ("legal.statement.send", "create", [{"partner_ids": [self.client_a.id]}]),
            ("res.partner", "read", [[self.client_a.id], ["legal_monthly_statement"]]),
        ):
            with self.assertRaises(JsonRpcException, msg=f"{model}.{method}"):
                call(model, method, *args)
        invoices = call(
            "account.move", "search_read", [("partner_id", "=", self.client_a.id)], ["name"]
        )
        self.assertEqual(invoices, [])
        matters = call("legal.matter", "search_read", [], ["name"])
        self.assertEqual([m["name"] for m in matters], [self.matter_b.name])
