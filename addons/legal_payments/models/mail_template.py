# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from markupsafe import Markup

from odoo import models


class MailTemplate(models.Model):
    _inherit = "mail.template"

    def _render_field(self, field, res_ids, *args, **kwargs):
        """Override of `mail` to add the Pay Now button to the standard invoice e-mail.

        The template `account.email_template_edi_invoice` is extended, not copied: whatever
        its body (as shipped or edited by the firm), the rendered e-mail of an invoice that can
        be paid online ends with the block `legal_payments.invoice_email_pay_now`.
        """
        rendered = super()._render_field(field, res_ids, *args, **kwargs)
        if field != "body_html" or len(self) != 1 or self.model != "account.move":
            return rendered
        invoice_template = self.env.ref("account.email_template_edi_invoice", False)
        if self != invoice_template:
            return rendered
        QWeb = self.env["ir.qweb"]
        for move in self.env["account.move"].sudo().browse(res_ids):
            url = move._legal_pay_now_url()
            if url and move.id in rendered:
                button = QWeb._render(
                    "legal_payments.invoice_email_pay_now", {"object": move, "pay_now_url": url}
                )
                rendered[move.id] = Markup(rendered[move.id] or "") + Markup(button)
        return rendered
