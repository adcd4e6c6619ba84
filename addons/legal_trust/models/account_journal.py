from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class AccountJournal(models.Model):
    _inherit = "account.journal"

    is_trust_account = fields.Boolean(
        string="Trust Account",
        copy=False,
        help="This bank journal holds client money in trust (IOLTA): only trust "
        "movements of matters are posted in it, never the firm's own payments.",
    )

    @api.constrains("is_trust_account", "type")
    def _check_trust_account_is_bank(self):
        for journal in self.filtered("is_trust_account"):
            if journal.type != "bank":
                raise ValidationError(
                    _("Only bank journals can be trust accounts (%s).", journal.display_name)
                )

    def write(self, vals):
        if "is_trust_account" in vals:
            changed = self.filtered(lambda j: j.is_trust_account != vals["is_trust_account"])
            if changed and self.env["account.move.line"].sudo().search_count(
                [("journal_id", "in", changed.ids), ("parent_state", "=", "posted")], limit=1
            ):
                raise ValidationError(
                    _(
                        "A journal with posted entries cannot be turned into or out of a "
                        "trust account: create a new journal instead."
                    )
                )
        res = super().write(vals)
        if {"is_trust_account", "default_account_id", "company_id", "active"} & set(vals):
            self.env.registry.clear_cache()
        return res

    @api.model_create_multi
    def create(self, vals_list):
        journals = super().create(vals_list)
        if journals.filtered("is_trust_account"):
            self.env.registry.clear_cache()
        return journals
