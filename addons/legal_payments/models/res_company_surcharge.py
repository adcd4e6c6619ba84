# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, fields, models
from odoo.tools import SQL


class ResCompany(models.Model):
    _inherit = "res.company"

    legal_surcharge_account_id = fields.Many2one(
        string="Card Surcharge Income Account",
        comodel_name="account.account",
        check_company=True,
        domain="[('account_type', 'in', ('income', 'income_other'))]",
        help="Card surcharges of the operating providers that set no account of their own.",
    )

    def _legal_surcharge_account(self):
        """Return the card surcharge income account, creating it on first use.

        The company row is locked and written in the same transaction: a concurrent first
        surcharge waits, then fails with a serialization error and, retried, finds the account.

        :rtype: account.account
        """
        self.ensure_one()
        if self.legal_surcharge_account_id:
            return self.legal_surcharge_account_id
        self.flush_recordset(["legal_surcharge_account_id"])
        self.env.cr.execute(
            SQL("SELECT id FROM res_company WHERE id = %s FOR NO KEY UPDATE", self.id),
            log_exceptions=False,
        )
        self.invalidate_recordset(["legal_surcharge_account_id"])
        if self.legal_surcharge_account_id:
            return self.legal_surcharge_account_id
        Account = self.env["account.account"].sudo().with_company(self)
        account = Account.create(
            {
                "name": _("Card surcharges"),
                "code": Account._search_new_account_code("4491"),
                "account_type": "income_other",
                "company_ids": [fields.Command.set(self.root_id.ids)],
            }
        )
        self.sudo().legal_surcharge_account_id = account
        return account
