# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, fields, models


class LegalMatter(models.Model):
    _inherit = "legal.matter"

    legal_refund_line_ids = fields.One2many(
        "legal.refund.line", "matter_id", string="Trust Refund Lines", readonly=True
    )

    def action_legal_refund(self):
        """Open the client refund wizard for this matter (its trust balance included)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Client Refund"),
            "res_model": "legal.refund.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_partner_id": self.commercial_partner_id.id,
                "default_matter_id": self.id,
                "default_company_id": self.company_id.id,
            },
        }

    def _legal_refund_deposit_transactions(self):
        """Done Stripe deposits into this matter's trust, most refundable first."""
        self.ensure_one()
        txs = (
            self.env["payment.transaction"]
            .sudo()
            .search(
                [
                    ("legal_matter_id", "=", self.id),
                    ("state", "=", "done"),
                    ("operation", "!=", "refund"),
                    ("provider_code", "=", "stripe"),
                ]
            )
        )
        return txs.sorted(lambda tx: -tx._legal_refundable_amount())
