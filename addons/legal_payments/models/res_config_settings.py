# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    legal_card_fee_account_id = fields.Many2one(
        related="company_id.legal_card_fee_account_id", readonly=False
    )
    legal_operating_journal_id = fields.Many2one(
        related="company_id.legal_operating_journal_id", readonly=False
    )
    legal_dispute_charge_client = fields.Boolean(
        related="company_id.legal_dispute_charge_client", readonly=False
    )
