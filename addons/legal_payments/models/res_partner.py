# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    legal_authorization_count = fields.Integer(
        string="Authorizations to Charge",
        compute="_compute_legal_authorization_count",
        groups="account.group_account_invoice,legal_trust.group_trust_user",
    )

    def _compute_legal_authorization_count(self):
        Authorization = self.env["legal.payment.authorization"]
        for partner in self:
            client = partner.commercial_partner_id
            partner.legal_authorization_count = (
                Authorization.search_count([("partner_id", "child_of", client.id)])
                if client.id
                else 0
            )

    def action_legal_view_authorizations(self):
        """Open the client's authorizations to charge; a new one is created for this client
        and stays awaiting the client's confirmation until they confirm it."""
        self.ensure_one()
        client = self.commercial_partner_id
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "legal_payments.action_legal_payment_authorization"
        )
        action.update(
            {
                "name": _("Authorizations to Charge: %s", client.display_name),
                "domain": [("partner_id", "child_of", client.id)],
                "context": {"default_partner_id": client.id},
            }
        )
        return action
