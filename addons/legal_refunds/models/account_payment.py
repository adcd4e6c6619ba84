# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import fields, models


class AccountPayment(models.Model):
    _inherit = "account.payment"

    legal_refund_line_id = fields.Many2one(
        "legal.refund.line",
        string="Client Refund Line",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    legal_refund_id = fields.Many2one(
        related="legal_refund_line_id.refund_id", string="Client Refund"
    )
