# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import fields, models

from .. import const


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
    legal_consent_link_days = fields.Integer(
        string="Confirmation Links Valid For (Days)",
        config_parameter=const.CONSENT_LINK_DAYS_PARAM,
        default=const.CONSENT_LINK_DEFAULT_DAYS,
        help="An e-mailed link to confirm an authorization to charge works once, for this "
        "many days.",
    )
