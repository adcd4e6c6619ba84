# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import fields, models


class LegalMatter(models.Model):
    _inherit = "legal.matter"

    legal_dispute_flag = fields.Boolean(
        string="Payment Disputed",
        tracking=True,
        help="A client's card or bank payment into trust for this matter was disputed.",
    )
