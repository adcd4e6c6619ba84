# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.legal_trust.utils import lock_rows


class ResCompany(models.Model):
    _inherit = "res.company"

    legal_card_fee_account_id = fields.Many2one(
        string="Card Fee Expense Account",
        comodel_name="account.account",
        check_company=True,
        domain="[('account_type', 'in', ('expense', 'expense_direct_cost'))]",
        help="Stripe fees of online payments, borne by the firm (never by trust money).",
    )
    legal_operating_journal_id = fields.Many2one(
        string="Operating Bank Journal",
        comodel_name="account.journal",
        check_company=True,
        domain="[('type', '=', 'bank'), ('is_trust_account', '=', False)]",
        help="The firm's bank account that replenishes trust for card fees and disputes.",
    )

    legal_dispute_charge_client = fields.Boolean(
        string="Charge Disputes to the Client",
        default=True,
        help="What a disputed trust deposit took beyond the client's trust funds is booked "
        "as a receivable from the client; otherwise as a card fee expense.",
    )

    def _legal_card_fee_account(self):
        """Return the card fee expense account, creating it on first use.

        :rtype: account.account
        """
        self.ensure_one()
        if self.legal_card_fee_account_id:
            return self.legal_card_fee_account_id
        Account = self.env["account.account"].sudo().with_company(self)
        code = Account._search_new_account_code("6291")
        account = Account.create(
            {
                "name": _("Card processing fees"),
                "code": code,
                "account_type": "expense",
                "company_ids": [fields.Command.set(self.root_id.ids)],
            }
        )
        self.sudo().legal_card_fee_account_id = account
        return account

    def _legal_operating_journal(self):
        """Return the operating bank journal, by default the first non-trust bank journal.

        :rtype: account.journal
        :raise UserError: when the company has no operating bank journal
        """
        self.ensure_one()
        journal = self.legal_operating_journal_id or self.env["account.journal"].sudo().search(
            [
                ("company_id", "=", self.id),
                ("type", "=", "bank"),
                ("is_trust_account", "=", False),
                (
                    "id",
                    "not in",
                    # Stripe providers' journals are clearing accounts, not the bank.
                    self.env["payment.provider"]
                    .sudo()
                    .search([("company_id", "=", self.id), ("code", "=", "stripe")])
                    .journal_id.ids,
                ),
            ],
            limit=1,
        )
        if not journal:
            raise UserError(_("Set the operating bank journal of %s.", self.name))
        return journal

    # === CARD SURCHARGE === #

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
        lock_rows(self, ["legal_surcharge_account_id"], log_exceptions=False)
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
