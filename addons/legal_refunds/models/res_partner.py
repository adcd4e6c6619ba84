# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    legal_refund_count = fields.Integer(
        compute="_compute_legal_refund_count", groups="account.group_account_invoice"
    )

    def _compute_legal_refund_count(self):
        data = dict(
            self.env["legal.refund"]._read_group(
                [("partner_id", "in", self.commercial_partner_id.ids)],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.legal_refund_count = data.get(partner.commercial_partner_id, 0)

    def action_legal_refund(self):
        """Open the client refund wizard for this client."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Client Refund"),
            "res_model": "legal.refund.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_id": self.commercial_partner_id.id},
        }

    def action_view_legal_refunds(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Client Refunds"),
            "res_model": "legal.refund",
            "view_mode": "list,form",
            "domain": [("partner_id", "=", self.commercial_partner_id.id)],
            "context": {"default_partner_id": self.commercial_partner_id.id},
        }
