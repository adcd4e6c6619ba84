# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Pay Now printed on a retainer request."""

from urllib.parse import parse_qs, urlsplit

from odoo.tests import tagged

from odoo.addons.legal_payments.tests.test_pay_now_documents import (
    PayNowAssertions,
    printed_pay_now,
)

from .common import LegalRetainersCommon


@tagged("post_install", "-at_install")
class TestRetainerPayNowPrinted(LegalRetainersCommon, PayNowAssertions):
    def _printed(self, request):
        content = self.env["ir.actions.report"]._render_qweb_html(
            "legal_retainers.action_report_retainer_request", request.ids
        )[0]
        self.assertIn(request.name.encode(), content, "the request itself is printed")
        return printed_pay_now(content)

    def test_a_sent_request_prints_pay_now_and_a_qr_code_to_its_payment_page(self):
        request = self.matter_a.action_request_retainer()
        self.assertEqual(request.state, "sent")
        href, qr_src, amount = self._printed(request)
        parts = urlsplit(href)
        self.assertEqual(f"{parts.scheme}://{parts.netloc}", request.get_base_url())
        self.assertEqual(parts.path, f"/my/retainers/{request.id}")
        self.assertEqual(parse_qs(parts.query)["access_token"], [request.access_token])
        self.assertQrEncodes(qr_src, href)
        self.assertIn("1,000.00", amount)
        mail = self.env["mail.message"].search(
            [("model", "=", request._name), ("res_id", "=", request.id)], limit=1
        )
        self.assertIn(href.replace("&", "&amp;"), str(mail.body), "the e-mail's link")

    def test_a_partly_paid_request_prints_what_is_left_to_pay(self):
        request = self.matter_a.action_request_retainer()
        self._pay(request, 900.0)
        self.assertEqual(request.state, "partial")
        _href, _qr, amount = self._printed(request)
        self.assertIn("100.00", amount)
        self.assertNotIn("1,000.00", amount)

    def test_a_paid_cancelled_or_draft_request_prints_no_pay_now(self):
        paid = self.matter_a.action_request_retainer()
        self._pay(paid, 1000.0)
        self.assertEqual(paid.state, "paid")
        self.assertIsNone(self._printed(paid))
        cancelled = self.env["legal.retainer.request"].create(
            {"matter_id": self.matter_a.id, "amount": 250.0}
        )
        self.assertEqual(cancelled.state, "draft")
        self.assertIsNone(self._printed(cancelled), "a draft is not sent to the client yet")
        cancelled.action_send()
        cancelled.action_cancel()
        self.assertIsNone(self._printed(cancelled))

    def test_no_pay_now_on_a_request_without_a_trust_provider(self):
        request = self.matter_a.action_request_retainer()
        self.trust_provider.state = "disabled"
        self.assertIsNone(self._printed(request), "operating providers never take deposits")
