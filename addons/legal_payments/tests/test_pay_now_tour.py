from urllib.parse import parse_qs, urlsplit

from odoo.fields import Command
from odoo.tests import HttpCase, tagged

from .test_pay_now_documents import printed_pay_now


@tagged("post_install", "-at_install")
class TestPayNowTour(HttpCase):
    """A client opens the Pay Now link of the invoice e-mail and pays with Odoo's demo
    provider (installed beside the addons by scripts/test); the invoice is paid."""

    def test_client_pays_the_invoice_from_the_email_link(self):
        demo = self.env.ref("payment.payment_provider_demo", raise_if_not_found=False)
        self.assertTrue(
            demo and demo.module_id.state == "installed",
            "payment_demo must be installed for this tour: run it through scripts/test",
        )
        demo.write({"state": "test", "is_published": True})
        client = self.env["res.partner"].create(
            {"name": "Tour Client Pay Now", "email": "paynow@example.com"}
        )
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": client.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Legal services",
                            "quantity": 1,
                            "price_unit": 420.0,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        invoice.action_post()
        template = self.env.ref("account.email_template_edi_invoice")
        body = template._render_field("body_html", invoice.ids)[invoice.id]
        link = invoice._legal_pay_now_url()
        self.assertIn(link.replace("&", "&amp;"), str(body), "the e-mail carries the Pay Now link")
        path = link[len(invoice.get_base_url()) :]
        self.start_tour(path, "legal_payments_pay_now_from_email")
        invoice.invalidate_recordset()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice.amount_residual, 0.0)

    def test_the_pay_now_link_of_the_invoice_pdf_opens_the_invoice_payment_page(self):
        demo = self.env.ref("payment.payment_provider_demo", raise_if_not_found=False)
        self.assertTrue(
            demo and demo.module_id.state == "installed",
            "payment_demo must be installed for this tour: run it through scripts/test",
        )
        demo.write({"state": "test", "is_published": True})
        self.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", True
        )
        client = self.env["res.partner"].create(
            {"name": "Tour Client Printed Invoice", "email": "printed@example.com"}
        )
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": client.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Legal services",
                            "quantity": 1,
                            "price_unit": 1234.56,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        invoice.action_post()
        content = self.env["ir.actions.report"]._render_qweb_html(
            "account.account_invoices", invoice.ids
        )[0]
        href, qr_src, _amount = printed_pay_now(content)
        self.assertEqual(href, invoice._legal_pay_now_url(), "the e-mail's link")
        self.assertEqual(parse_qs(urlsplit(qr_src).query)["value"], [href])
        path = href[len(invoice.get_base_url()) :]
        self.assertTrue(path.startswith(f"/my/invoices/{invoice.id}?access_token="))
        self.start_tour(path, "legal_payments_pay_now_from_pdf")
        invoice.invalidate_recordset()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice.amount_residual, 0.0)
