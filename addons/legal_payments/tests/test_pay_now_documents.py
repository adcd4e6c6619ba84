# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Pay Now printed on the invoice and on the statement of account."""

from urllib.parse import parse_qs, urlsplit

from lxml import html as lxml_html

from odoo.fields import Command
from odoo.tests import tagged

from .billing_common import LegalBillingCommon
from .common import LegalPaymentsCommon


def printed_pay_now(report_html):
    """The Pay Now link, the QR code's source and the amount printed on a rendered report.

    :return: ``(href, qr_src, amount_text)``, or ``None`` when no Pay Now block is printed
    """
    tree = lxml_html.fromstring(report_html)
    blocks = tree.xpath("//div[contains(concat(' ', @class, ' '), ' o_legal_pay_now ')]")
    if not blocks:
        return None
    block = blocks[0]
    (link,) = block.xpath(".//a[contains(@class, 'o_legal_pay_now_link')]")
    (qr,) = block.xpath(".//img[contains(@class, 'o_legal_pay_now_qr')]")
    (amount,) = block.xpath(".//*[contains(@class, 'o_legal_pay_now_amount')]")
    return link.get("href"), qr.get("src"), amount.text_content()


class PayNowAssertions:
    def assertQrEncodes(self, qr_src, url):
        """The QR code is drawn by Odoo's barcode service and encodes exactly ``url``."""
        parts = urlsplit(qr_src)
        self.assertEqual(parts.path, "/report/barcode/")
        query = parse_qs(parts.query)
        self.assertEqual(query["barcode_type"], ["QR"])
        self.assertEqual(query["value"], [url])
        self.assertTrue(int(query["width"][0]) >= 100 and query["width"] == query["height"])


@tagged("post_install", "-at_install")
class TestInvoicePayNowPrinted(LegalPaymentsCommon, PayNowAssertions):
    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", True
        )

    def _printed(self, invoice):
        content = self.env["ir.actions.report"]._render_qweb_html(
            "account.account_invoices", invoice.ids
        )[0]
        self.assertIn(invoice.partner_id.name.encode(), content, "the invoice itself is printed")
        return printed_pay_now(content)

    def test_an_unpaid_invoice_prints_pay_now_and_a_qr_code_to_its_payment_page(self):
        href, qr_src, amount = self._printed(self.invoice)
        self.assertEqual(href, self.invoice._legal_pay_now_url(), "the e-mail's link")
        parts = urlsplit(href)
        self.assertEqual(f"{parts.scheme}://{parts.netloc}", self.invoice.get_base_url())
        self.assertEqual(parts.path, f"/my/invoices/{self.invoice.id}")
        query = parse_qs(parts.query)
        self.assertEqual(query["access_token"], [self.invoice.access_token])
        self.assertEqual(query["payment"], ["True"])
        self.assertEqual(parts.fragment, "portal_pay")
        self.assertQrEncodes(qr_src, href)
        self.assertIn("500.00", amount)

    def test_a_partly_paid_invoice_prints_what_is_left_to_pay(self):
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=self.invoice.ids
        ).create({"amount": 120.0})._create_payments()
        self.assertEqual(self.invoice.payment_state, "partial")
        _href, _qr, amount = self._printed(self.invoice)
        self.assertIn("380.00", amount)

    def test_a_paid_invoice_prints_no_pay_now(self):
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=self.invoice.ids
        ).create({})._create_payments()
        self.assertIn(self.invoice.payment_state, ("paid", "in_payment"))
        self.assertIsNone(self._printed(self.invoice))

    def test_a_cancelled_invoice_prints_no_pay_now(self):
        self.invoice.button_draft()
        self.invoice.button_cancel()
        self.assertEqual(self.invoice.state, "cancel")
        self.assertIsNone(self._printed(self.invoice))

    def test_a_draft_invoice_or_a_credit_note_prints_no_pay_now(self):
        draft = self.init_invoice(
            "out_invoice", partner=self.client_partner, amounts=[80.0], taxes=[]
        )
        self.assertIsNone(self._printed(draft))
        credit_note = self.init_invoice(
            "out_refund", partner=self.client_partner, amounts=[80.0], taxes=[], post=True
        )
        self.assertIsNone(self._printed(credit_note))

    def test_no_pay_now_without_online_payment(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", False
        )
        self.assertIsNone(self._printed(self.invoice), "portal payment is off")
        self.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", True
        )
        operating = self.env["payment.provider"].search(
            [("company_id", "=", self.invoice.company_id.id), ("id", "!=", self.stripe_trust.id)]
        )
        self.assertIn(self.stripe, operating)
        operating.state = "disabled"
        self.assertEqual(self.stripe_trust.state, "test")
        self.assertIsNone(
            self._printed(self.invoice),
            "the only enabled provider is the trust provider, which never takes invoices",
        )
        self.stripe.state = "test"
        self.stripe.is_published = False
        self.assertEqual(
            (operating - self.stripe).mapped("state"), ["disabled"] * (len(operating) - 1)
        )
        self.assertIsNone(self._printed(self.invoice), "a client cannot pay with it")


@tagged("post_install", "-at_install")
class TestStatementPayNowPrinted(LegalBillingCommon, PayNowAssertions):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", True
        )
        demo = cls.env.ref("payment.payment_provider_demo", raise_if_not_found=False).sudo()
        assert demo, "payment_demo must be installed for these tests: run them through scripts/test"
        cls.operating_provider = demo.copy(
            {
                "name": "Operating (demo)",
                "company_id": cls.company.id,
                "journal_id": cls.operating_journal.id,
                "state": "test",
                "is_published": True,
                "payment_method_ids": [
                    Command.set(cls.env.ref("payment_demo.payment_method_demo").ids)
                ],
            }
        )
        cls.portal_alice = cls.env["res.users"].create(
            {
                "name": "Portal Alice",
                "login": "portal_alice_pay_now",
                "partner_id": cls.contact_a.id,
                "groups_id": [Command.set([cls.env.ref("base.group_portal").id])],
            }
        )

    def _printed(self, client):
        data = self.env["legal.billing.statement"]._statement_report_data(
            self.company, self.date_from, self.date_to
        )
        content = (
            self.env["ir.actions.report"]
            .with_company(self.company)
            ._render_qweb_html(
                "legal_payments.action_report_billing_statement", client.ids, data=data
            )[0]
        )
        self.assertIn(b"Statement of Account", content)
        return printed_pay_now(content)

    def test_the_statement_prints_pay_now_to_the_billing_portal_with_the_balance_owed(self):
        owed = self.env["legal.billing.statement"]._billing_summary(self.client_a, self.company)[
            "balance_owed"
        ]
        self.assertEqual(owed, 1100.0, "1,000 - 700 paid + 700 + 100 today")
        href, qr_src, amount = self._printed(self.client_a)
        self.assertEqual(href, self.client_a.get_base_url() + "/my/billing")
        self.assertQrEncodes(qr_src, href)
        self.assertIn("1,100.00", amount)

    def test_no_pay_now_on_a_statement_when_nothing_is_owed(self):
        open_invoices = (self.invoice_1 | self.invoice_2 | self.invoice_3).filtered(
            lambda move: move.amount_residual
        )
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=open_invoices.ids
        ).create({"group_payment": False})._create_payments()
        self.assertIsNone(self._printed(self.client_a))

    def test_no_pay_now_on_a_statement_for_a_client_without_portal_login(self):
        self.assertTrue(self.invoice_b.amount_residual, "client B owes 999")
        self.assertIsNone(self._printed(self.client_b))

    def test_no_pay_now_on_a_statement_without_an_operating_provider(self):
        self.operating_provider.state = "disabled"
        self.assertIsNone(self._printed(self.client_a))
