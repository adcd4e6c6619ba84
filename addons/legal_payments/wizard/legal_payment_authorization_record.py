# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, api, fields, models
from odoo.exceptions import UserError


class LegalPaymentAuthorizationRecord(models.TransientModel):
    """Record an authorization to charge the client signed on paper or electronically.

    The firm never accepts for the client: it records what the client signed, with the signed
    document attached, and the client is e-mailed a copy with a link to revoke it.
    """

    _name = "legal.payment.authorization.record"
    _description = "Record a Signed Authorization to Charge"

    partner_id = fields.Many2one(string="Client", comodel_name="res.partner", required=True)
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, default=lambda self: self.env.company
    )
    token_id = fields.Many2one(
        string="Payment Method",
        comodel_name="payment.token",
        required=True,
        domain="[('partner_id', 'child_of', partner_id)]",
    )
    scope = fields.Selection(
        selection=[("invoices", "Invoices"), ("trust_topup", "Trust Top-ups of One Matter")],
        required=True,
        default="invoices",
    )
    matter_id = fields.Many2one(
        string="Matter",
        comodel_name="legal.matter",
        domain="[('partner_id', 'child_of', partner_id)]",
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        required=True,
        default=lambda self: self.env.company.currency_id,
    )
    max_amount = fields.Monetary(string="Maximum per Charge", required=True)
    date_start = fields.Date(string="Start Date", required=True, default=fields.Date.context_today)
    date_end = fields.Date(string="End Date")
    # Required: checked by `action_record` with a clear message.
    document = fields.Binary(string="Signed Document", attachment=False)
    document_name = fields.Char(string="File Name")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        if values.get("partner_id"):
            partner = self.env["res.partner"].browse(values["partner_id"])
            values["partner_id"] = partner.commercial_partner_id.id
        return values

    def action_record(self):
        """Create the authorization with the terms signed and record it from the document.

        :return: the form of the recorded `legal.payment.authorization`
        :raise UserError: no signed document attached
        """
        self.ensure_one()
        if not self.document:
            raise UserError(_("Attach the document the client signed."))
        authorization = self.env["legal.payment.authorization"].create(
            {
                "partner_id": self.partner_id.commercial_partner_id.id,
                "company_id": self.company_id.id,
                "token_id": self.token_id.id,
                "scope": self.scope,
                "matter_id": self.matter_id.id if self.scope == "trust_topup" else False,
                "currency_id": self.currency_id.id,
                "max_amount": self.max_amount,
                "date_start": self.date_start,
                "date_end": self.date_end,
            }
        )
        attachment = self.env["ir.attachment"].create(
            {
                "name": self.document_name or _("Signed authorization %s", authorization.name),
                "datas": self.document,
                "res_model": authorization._name,
                "res_id": authorization.id,
            }
        )
        authorization._legal_record_signed_document(attachment)
        return {
            "type": "ir.actions.act_window",
            "res_model": authorization._name,
            "res_id": authorization.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }
