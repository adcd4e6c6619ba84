from odoo import _, api, models
from odoo.exceptions import UserError


class AccountAccount(models.Model):
    _inherit = "account.account"

    @api.ondelete(at_uninstall=False)
    def _unlink_except_trust_liability(self):
        companies = (
            self.env["res.company"].sudo().search([("trust_liability_account_id", "in", self.ids)])
        )
        if companies:
            raise UserError(_("The trust liability account of a company cannot be deleted."))
