# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, api, fields, models
from odoo.exceptions import UserError


class LegalPaymentConsent(models.Model):
    """A version of the authorization-to-charge text shown to clients.

    A version that a client accepted is frozen: changing the wording means publishing a new
    version, so that every authorization keeps pointing at the exact words its client read.
    """

    _name = "legal.payment.consent"
    _description = "Authorization to Charge: Consent Text Version"
    _order = "company_id, date_published desc, id desc"

    name = fields.Char(string="Version", required=True)
    company_id = fields.Many2one(
        comodel_name="res.company",
        default=lambda self: self.env.company,
        help="Leave empty for the text used by every company that has none of its own.",
    )
    date_published = fields.Date(
        string="Published On", required=True, default=fields.Date.context_today
    )
    active = fields.Boolean(default=True)
    body = fields.Text(
        required=True,
        help="The text the client accepts. Placeholders: {firm}, {client}, {method}, {scope}, "
        "{maximum}, {start}, {end}.",
    )
    authorization_ids = fields.One2many(
        comodel_name="legal.payment.authorization", inverse_name="consent_id"
    )

    _sql_constraints = [
        (
            "name_company_uniq",
            "unique(name, company_id)",
            "A consent version with this name already exists in this company.",
        )
    ]

    @api.model
    def _legal_current(self, company):
        """Return the consent version in force for the company: its latest published one, else
        the latest one shared by all companies.

        :raise UserError: when the company has none
        """
        consent = self.sudo().search(
            [("company_id", "in", [company.id, False]), ("active", "=", True)],
            order="company_id, date_published desc, id desc",
            limit=1,
        )
        if not consent:
            raise UserError(_("No authorization-to-charge text is published for %s.", company.name))
        return consent

    def write(self, vals):
        if {"body", "name", "company_id"} & set(vals) and self.sudo().authorization_ids.filtered(
            lambda auth: auth._legal_has_consent()
        ):
            raise UserError(
                _(
                    "Clients have accepted this consent text: publish a new version instead of "
                    "changing it."
                )
            )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_used(self):
        if self.sudo().authorization_ids:
            raise UserError(_("A consent text used by an authorization cannot be deleted."))
