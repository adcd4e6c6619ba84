from odoo.fields import Command
from odoo.tests import HttpCase, tagged


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
