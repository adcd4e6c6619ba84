# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

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
