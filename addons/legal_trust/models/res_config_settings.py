from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    trust_liability_account_id = fields.Many2one(
        related="company_id.trust_liability_account_id",
        readonly=False,
        domain="[('account_type', 'in', ('liability_current', 'liability_non_current'))]",
    )
    trust_journal_id = fields.Many2one(
        related="company_id.trust_journal_id",
        readonly=False,
    )
