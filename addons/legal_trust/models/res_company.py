from odoo import _, fields, models, tools
from odoo.exceptions import UserError

TRUST_LIABILITY_START_CODE = "2190"


class ResCompany(models.Model):
    _inherit = "res.company"

    trust_liability_account_id = fields.Many2one(
        "account.account",
        string="Trust Liability Account",
        check_company=True,
        help="Liability account holding client funds in trust. Every journal item on it "
        "carries the client and the matter.",
    )

    def _legal_trust_liability_account(self):
        """Return the company's trust liability account, creating it on first use.

        The account is created lazily because, in a single ``-i`` run, the chart of
        accounts may be loaded after this module's post-install hook.

        :return: ``account.account`` record
        :raise UserError: when the company has no chart of accounts yet
        """
        self.ensure_one()
        if self.trust_liability_account_id:
            return self.trust_liability_account_id
        if not self.chart_template:
            raise UserError(
                _(
                    "Company %s has no chart of accounts yet: install one before "
                    "recording trust money.",
                    self.name,
                )
            )
        Account = self.env["account.account"].sudo().with_company(self)
        account = Account.create(
            {
                "name": _("Client funds held in trust"),
                "code": Account._search_new_account_code(TRUST_LIABILITY_START_CODE),
                "account_type": "liability_current",
                "company_ids": [fields.Command.set(self.ids)],
                "reconcile": False,
            }
        )
        self.sudo().trust_liability_account_id = account
        return account

    trust_journal_id = fields.Many2one(
        "account.journal",
        string="Default Trust Bank",
        check_company=True,
        domain="[('is_trust_account', '=', True), ('company_id', '=', id)]",
        help="The trust bank account used by default for trust movements (transfers between "
        "matters, invoices paid from trust). Other trust journals, such as a payment "
        "provider's trust clearing journal, are used only when chosen.",
    )

    def _legal_trust_journals(self):
        """Return the company's trust bank journals (trust bank and trust clearing)."""
        return self.env["account.journal"].search(
            [("company_id", "=", self.id), ("is_trust_account", "=", True)]
        )

    @tools.ormcache("self.id")
    def _legal_trust_bank_account_ids(self):
        """Default accounts of the company's trust journals (cached: read on every posting).

        The cache is cleared when a journal is created or its trust flag or default account
        changes (see ``account.journal``).
        """
        journals = (
            self.env["account.journal"]
            .sudo()
            .search([("company_id", "=", self.id), ("is_trust_account", "=", True)])
        )
        return tuple(journals.default_account_id.ids)

    def _legal_default_trust_journal(self):
        """Return the first trust bank journal of the company.

        :raise UserError: when the company has none
        """
        journal = (
            self.trust_journal_id.filtered("is_trust_account") or (self._legal_trust_journals()[:1])
        )
        if not journal:
            raise UserError(
                _(
                    "Company %s has no trust bank journal: create a bank journal and tick "
                    "'Trust Account' on it.",
                    self.name,
                )
            )
        return journal
