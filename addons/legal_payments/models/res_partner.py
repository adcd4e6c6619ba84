# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    legal_authorization_count = fields.Integer(
        string="Authorizations to Charge",
        compute="_compute_legal_authorization_count",
        groups="account.group_account_invoice,legal_trust.group_trust_user",
    )

    legal_authorization_ids = fields.One2many(
        string="Consent to Charge",
        comodel_name="legal.payment.authorization",
        inverse_name="partner_id",
        readonly=True,
        groups="account.group_account_invoice,legal_trust.group_trust_user",
    )

    legal_monthly_statement = fields.Boolean(
        string="Monthly statement",
        groups="account.group_account_invoice",
        help="E-mail the client its statement of account for the previous month, early each "
        "month (with the PDF attached).",
    )
    legal_statement_sent_ids = fields.One2many(
        "legal.billing.statement.sent",
        "partner_id",
        string="Statements sent",
        groups="account.group_account_invoice",
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

    def action_legal_record_signed_authorization(self):
        """Open the form recording an authorization to charge the client signed on paper or
        electronically (with the signed document, required)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "legal_payments.action_legal_payment_authorization_record"
        )
        action["context"] = {"default_partner_id": self.commercial_partner_id.id}
        return action
