# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import api, fields, models

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

    legal_setup_todo_count = fields.Integer(
        string="Setup Steps Left", compute="_compute_legal_setup"
    )
    legal_setup_trust_journal = fields.Boolean(compute="_compute_legal_setup")
    legal_setup_trust_liability_account = fields.Boolean(compute="_compute_legal_setup")
    legal_setup_trust_provider = fields.Boolean(compute="_compute_legal_setup")
    legal_setup_trust_payout_journal = fields.Boolean(compute="_compute_legal_setup")
    legal_setup_trust_webhook_secret = fields.Boolean(compute="_compute_legal_setup")
    legal_setup_operating_provider = fields.Boolean(compute="_compute_legal_setup")
    legal_setup_operating_payout_journal = fields.Boolean(compute="_compute_legal_setup")
    legal_setup_operating_webhook_secret = fields.Boolean(compute="_compute_legal_setup")
    legal_setup_card_fee_account = fields.Boolean(compute="_compute_legal_setup")
    legal_setup_operating_journal = fields.Boolean(compute="_compute_legal_setup")
    legal_setup_online_payment = fields.Boolean(compute="_compute_legal_setup")

    # === COMPUTE METHODS === #

    @api.depends("company_id")
    def _compute_legal_setup(self):
        for settings in self:
            checklist = settings.company_id._legal_setup_checklist()
            for item in checklist:
                settings[f"legal_setup_{item['key']}"] = item["done"]
            settings.legal_setup_todo_count = len([i for i in checklist if not i["done"]])

    # === ACTION METHODS === #

    def _legal_setup_open(self, key):
        self.ensure_one()
        return self.company_id._legal_setup_open(key)

    def action_legal_setup_wizard(self):
        """Open the Stripe setup wizard of the settings' company (accounting managers)."""
        self.ensure_one()
        self.company_id._legal_setup_check_access()
        return self.company_id._legal_setup_action_wizard()

    def action_legal_setup_trust_journal(self):
        return self._legal_setup_open("trust_journal")

    def action_legal_setup_trust_liability_account(self):
        return self._legal_setup_open("trust_liability_account")

    def action_legal_setup_trust_provider(self):
        return self._legal_setup_open("trust_provider")

    def action_legal_setup_operating_provider(self):
        return self._legal_setup_open("operating_provider")

    def action_legal_setup_card_fee_account(self):
        return self._legal_setup_open("card_fee_account")

    def action_legal_setup_operating_journal(self):
        return self._legal_setup_open("operating_journal")
