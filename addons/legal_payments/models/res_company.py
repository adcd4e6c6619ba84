# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL

from odoo.addons.legal_trust.utils import lock_rows

from .. import const


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

    # === SETUP CHECKLIST === #

    def _legal_setup_checklist(self):
        """What the firm has configured for Legal Payments in this company, and what is missing.

        :return: one dict per item, in the order of the settings page: ``key`` (technical
            name), ``label`` (the firm's words), ``done`` (bool) and ``action`` (the name of the
            `res.company` method that returns the window action fixing it)
        :rtype: list[dict]
        """
        self.ensure_one()
        company = self.sudo()
        trust_bank = company._legal_setup_trust_bank()
        trust = company._legal_setup_providers("trust", active=True)
        operating = company._legal_setup_providers("operating", active=True)
        published = (
            self.env["payment.provider"]
            .sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("state", "in", ("enabled", "test")),
                    ("is_published", "=", True),
                ]
            )
            .filtered(lambda p: not p.legal_is_trust)
        )
        items = [
            (
                "trust_journal",
                _("Trust bank journal"),
                bool(trust_bank),
                "_legal_setup_action_trust_journal",
            ),
            (
                "trust_liability_account",
                _("Trust liability account"),
                bool(company.trust_liability_account_id),
                "_legal_setup_action_trust_liability_account",
            ),
            (
                "trust_provider",
                _("Trust Stripe provider (enabled or test mode)"),
                bool(trust),
                "_legal_setup_action_trust_provider",
            ),
            (
                "trust_payout_journal",
                _("Payout bank journal of the trust provider (a trust account)"),
                bool(trust) and all(p.legal_payout_journal_id.is_trust_account for p in trust),
                "_legal_setup_action_trust_provider",
            ),
            (
                "trust_webhook_secret",
                _("Webhook signing secret of the trust provider"),
                bool(trust) and all(p.stripe_webhook_secret for p in trust),
                "_legal_setup_action_trust_provider",
            ),
            (
                "operating_provider",
                _("Operating Stripe provider (enabled or test mode)"),
                bool(operating) and all(p.journal_id for p in operating),
                "_legal_setup_action_operating_provider",
            ),
            (
                "operating_payout_journal",
                _("Payout bank journal of the operating provider"),
                bool(operating)
                and all(
                    p.legal_payout_journal_id and not p.legal_payout_journal_id.is_trust_account
                    for p in operating
                ),
                "_legal_setup_action_operating_provider",
            ),
            (
                "operating_webhook_secret",
                _("Webhook signing secret of the operating provider"),
                bool(operating) and all(p.stripe_webhook_secret for p in operating),
                "_legal_setup_action_operating_provider",
            ),
            (
                "card_fee_account",
                _("Card fee expense account"),
                bool(company.legal_card_fee_account_id),
                "_legal_setup_action_card_fee_account",
            ),
            (
                "operating_journal",
                _("Operating bank journal (replenishes trust for fees and disputes)"),
                bool(company.legal_operating_journal_id),
                "_legal_setup_action_operating_journal",
            ),
            (
                "online_payment",
                _("Online payment of invoices (a published operating provider)"),
                bool(published),
                "_legal_setup_action_operating_provider",
            ),
        ]
        return [
            {"key": key, "label": label, "done": done, "action": action}
            for key, label, done, action in items
        ]

    def _legal_setup_open(self, key):
        """The window action that fixes the checklist item ``key``.

        :param str key: the ``key`` of an item of :meth:`_legal_setup_checklist`
        :return: an ``ir.actions.act_window`` dict
        :raise AccessError: when the user is not an accounting manager
        :raise UserError: when ``key`` is not an item of the checklist
        """
        self.ensure_one()
        self._legal_setup_check_access()
        item = next((i for i in self._legal_setup_checklist() if i["key"] == key), None)
        if not item:
            raise UserError(_("Unknown setup step: %s", key))
        return getattr(self, item["action"])()

    def _legal_setup_check_access(self):
        """Only accounting managers of the company set Legal Payments up.

        :raise AccessError: for any other user, or a company the user cannot work in
        """
        user = self.env.user
        if not self.env.su and (
            not user.has_group("account.group_account_manager")
            or not set(self.ids) <= set(user.company_ids.ids)
        ):
            raise AccessError(_("Only accounting managers of the company set up Legal Payments."))

    # === SETUP HELPERS === #

    def _legal_setup_clearing_journals(self):
        """The journals of the company's Stripe providers (clearing accounts, not banks).

        :rtype: account.journal
        """
        self.ensure_one()
        return (
            self.env["payment.provider"]
            .sudo()
            .search([("company_id", "=", self.id), ("code", "=", "stripe")])
            .journal_id
        )

    def _legal_setup_trust_bank(self):
        """The company's trust bank journal: the default one, else the first trust journal that
        is no Stripe provider's clearing journal.

        :return: an `account.journal`, possibly empty
        """
        self.ensure_one()
        company = self.sudo()
        if company.trust_journal_id.is_trust_account:
            return company.trust_journal_id
        clearing = company._legal_setup_clearing_journals()
        return (company._legal_trust_journals().sudo() - clearing)[:1]

    def _legal_setup_providers(self, role, active=False):
        """The company's Stripe providers of a role.

        :param str role: ``trust`` (paying into a trust journal) or ``operating`` (any other
            Stripe provider)
        :param bool active: only the providers enabled or in test mode
        :rtype: payment.provider
        """
        self.ensure_one()
        domain = [("company_id", "=", self.id), ("code", "=", "stripe")]
        if active:
            domain.append(("state", "in", ("enabled", "test")))
        providers = self.env["payment.provider"].sudo().search(domain)
        return providers.filtered(lambda p: p._legal_stripe_role() == role)

    def _legal_setup_free_journal_code(self, code):
        """``code``, or ``code`` followed by a digit, that no journal of the company uses.

        :rtype: str
        """
        self.ensure_one()
        used = set(
            self.env["account.journal"]
            .sudo()
            .with_context(active_test=False)
            .search([("company_id", "=", self.id)])
            .mapped("code")
        )
        for candidate in [code, *(f"{code[:4]}{digit}" for digit in range(1, 10))]:
            if candidate not in used:
                return candidate
        raise UserError(_("No free journal code like %s: rename a journal.", code))

    def _legal_setup_create_bank_journal(self, name, code, trust=False):
        """Create a bank journal of the company.

        :param str name: the journal's name
        :param str code: the preferred short code (another is taken when it is used)
        :param bool trust: whether it holds client money in trust
        :rtype: account.journal
        """
        self.ensure_one()
        return (
            self.env["account.journal"]
            .sudo()
            .with_company(self)
            .create(
                {
                    "name": name,
                    "code": self._legal_setup_free_journal_code(code),
                    "type": "bank",
                    "is_trust_account": trust,
                    "company_id": self.id,
                }
            )
        )

    # === STRIPE SETUP === #

    def _legal_setup_check_stripe_keys(self, trust_keys, operating_keys):
        """Refuse keys that are missing, malformed or mixed up.

        :param dict trust_keys: ``publishable``, ``secret`` and ``webhook`` of the trust account
        :param dict operating_keys: the same, of the operating account
        :return: both dicts, stripped of surrounding blanks
        :rtype: tuple(dict, dict)
        :raise UserError: a key missing or not in Stripe's format, a test key with a live key of
            the same account, or the same key for both accounts
        """
        accounts = []
        for keys, account in (
            (trust_keys, _("trust Stripe account")),
            (operating_keys, _("operating Stripe account")),
        ):
            keys = {k: (keys.get(k) or "").strip() for k in ("publishable", "secret", "webhook")}
            checks = (
                (
                    "publishable",
                    const.STRIPE_PUBLISHABLE_KEY_RE,
                    _("publishable key"),
                    "pk_test_/pk_live_",
                ),
                ("secret", const.STRIPE_SECRET_KEY_RE, _("secret key"), "sk_test_/sk_live_"),
                ("webhook", const.STRIPE_WEBHOOK_SECRET_RE, _("webhook signing secret"), "whsec_"),
            )
            for field, pattern, label, prefix in checks:
                if not keys[field]:
                    raise UserError(
                        _("Enter the %(key)s of the %(account)s.", key=label, account=account)
                    )
                if not pattern.match(keys[field]):
                    raise UserError(
                        _(
                            "The %(key)s of the %(account)s must start with %(prefix)s "
                            "(letters, digits and underscores only).",
                            key=label,
                            account=account,
                            prefix=prefix,
                        )
                    )
            if keys["publishable"].split("_")[1] != keys["secret"].split("_")[1]:
                raise UserError(
                    _(
                        "The keys of the %s mix test and live mode: take both from the same mode "
                        "of the Stripe Dashboard.",
                        account,
                    )
                )
            accounts.append(keys)
        trust_keys, operating_keys = accounts
        if any(trust_keys[k] == operating_keys[k] for k in trust_keys):
            raise UserError(
                _(
                    "The trust and the operating Stripe accounts must be two different Stripe "
                    "accounts, with their own keys: client money held in trust is never mixed "
                    "with the firm's."
                )
            )
        return trust_keys, operating_keys

    def _legal_setup_stripe(self, trust_keys, operating_keys):
        """Set the company up for Legal Payments from the keys of its two Stripe accounts.

        Creates what is missing and reuses what exists (running it again creates nothing):
        the trust bank journal, the trust liability account, the operating bank journal, the
        card fee expense account, a Stripe clearing journal per account (the trust one a trust
        account) and a Stripe provider per account (a copy of Odoo's Stripe provider), each
        with its keys, its webhook signing secret and its payout bank journal, in test mode
        for test keys, enabled for live keys.

        :param dict trust_keys: ``publishable``, ``secret`` and ``webhook`` of the trust account
        :param dict operating_keys: the same, of the operating account
        :return: the trust and the operating providers
        :rtype: tuple(payment.provider, payment.provider)
        :raise AccessError: when the user is not an accounting manager of the company
        :raise UserError: on missing, malformed or mixed-up keys (nothing is changed)
        """
        self.ensure_one()
        self._legal_setup_check_access()
        trust_keys, operating_keys = self._legal_setup_check_stripe_keys(trust_keys, operating_keys)
        company = self.sudo()
        # Two managers running the setup at once: lock the company's row and write to it, so
        # that the second waits, then fails to serialize (retried by the web layer) and finds
        # what the first created, instead of creating the journals and providers again.
        lock_rows(company)
        self.env.cr.execute(
            SQL("UPDATE res_company SET write_date = NOW() WHERE id = %s", company.id)
        )
        company._legal_trust_liability_account()
        company._legal_card_fee_account()

        trust_bank = company._legal_setup_trust_bank() or company._legal_setup_create_bank_journal(
            _("Client Trust Account"), const.SETUP_JOURNAL_CODES["trust_bank"], trust=True
        )
        if not company.trust_journal_id:
            company.trust_journal_id = trust_bank

        operating_bank = company.legal_operating_journal_id
        if not operating_bank:
            try:
                operating_bank = company._legal_operating_journal()
            except UserError:
                operating_bank = company._legal_setup_create_bank_journal(
                    _("Operating Bank"), const.SETUP_JOURNAL_CODES["operating_bank"]
                )
            company.legal_operating_journal_id = operating_bank

        trust = company._legal_setup_stripe_provider(
            "trust", trust_keys, payout_journal=trust_bank, avoid_journals=trust_bank
        )
        operating = company._legal_setup_stripe_provider(
            "operating",
            operating_keys,
            payout_journal=operating_bank,
            avoid_journals=operating_bank,
        )
        return trust, operating

    def _legal_setup_stripe_provider(self, role, keys, payout_journal, avoid_journals):
        """Configure the company's Stripe provider of ``role``, creating it when missing.

        :param str role: ``trust`` or ``operating``
        :param dict keys: the checked keys of its Stripe account
        :param payout_journal: the bank `account.journal` receiving its payouts
        :param avoid_journals: `account.journal` records that are not its clearing journal
        :rtype: payment.provider
        """
        self.ensure_one()
        trust = role == "trust"
        candidates = self._legal_setup_providers(role)
        provider = (
            candidates.filtered(lambda p: p.stripe_publishable_key == keys["publishable"])[:1]
            or candidates.filtered(lambda p: p.state != "disabled")[:1]
            or candidates[:1]
        )
        journal = provider.journal_id
        if not journal or journal in avoid_journals or journal.is_trust_account != trust:
            name = _("Stripe Trust Clearing") if trust else _("Stripe Operating Clearing")
            code = const.SETUP_JOURNAL_CODES["trust_clearing" if trust else "operating_clearing"]
            journal = self._legal_setup_create_bank_journal(name, code, trust=trust)
        values = {
            "stripe_publishable_key": keys["publishable"],
            "stripe_secret_key": keys["secret"],
            "stripe_webhook_secret": keys["webhook"],
            "state": "test" if keys["secret"].startswith("sk_test_") else "enabled",
            "is_published": True,
        }
        payout = provider.legal_payout_journal_id
        if not payout or payout.is_trust_account != trust or payout == journal:
            values["legal_payout_journal_id"] = payout_journal.id
        if not provider:
            base = self.env.ref("payment.payment_provider_stripe").sudo()
            return base.copy(
                {
                    **values,
                    "name": _("Stripe (Client Trust)") if trust else _("Stripe (Operating)"),
                    "company_id": self.id,
                    "journal_id": journal.id,
                }
            )
        if provider.journal_id != journal:
            values["journal_id"] = journal.id
        provider.write(values)
        return provider

    # === SETUP ACTIONS === #

    def _legal_setup_form(self, record, model=None, context=None, name=None):
        """A window action opening the form of ``record`` (a new record when it is empty)."""
        action = {
            "type": "ir.actions.act_window",
            "res_model": model or record._name,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
            "context": context or {},
        }
        if name:
            action["name"] = name
        if record:
            action["res_id"] = record.id
        return action

    def _legal_setup_action_wizard(self):
        """Open the Stripe setup wizard of the company.

        :return: an ``ir.actions.act_window`` dict
        """
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Set up Legal Payments"),
            "res_model": "legal.payments.setup.wizard",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_company_id": self.id},
        }

    def _legal_setup_action_trust_journal(self):
        """Open the trust bank journal, or a new one, ticked *Trust Account*."""
        return self._legal_setup_form(
            self._legal_setup_trust_bank(),
            model="account.journal",
            context={
                "default_type": "bank",
                "default_is_trust_account": True,
                "default_company_id": self.id,
                "default_name": _("Client Trust Account"),
            },
        )

    def _legal_setup_action_trust_liability_account(self):
        """Create the trust liability account when missing, and open it."""
        return self._legal_setup_form(self._legal_trust_liability_account())

    def _legal_setup_action_card_fee_account(self):
        """Create the card fee expense account when missing, and open it."""
        return self._legal_setup_form(self._legal_card_fee_account())

    def _legal_setup_action_operating_journal(self):
        """Set the operating bank journal to the first bank journal that is neither trust nor
        Stripe clearing and open it, or open a new bank journal when there is none."""
        company = self.sudo()
        if not company.legal_operating_journal_id:
            try:
                company.legal_operating_journal_id = company._legal_operating_journal()
            except UserError:
                return self._legal_setup_form(
                    self.env["account.journal"],
                    context={
                        "default_type": "bank",
                        "default_company_id": self.id,
                        "default_name": _("Operating Bank"),
                    },
                )
        return self._legal_setup_form(company.legal_operating_journal_id)

    def _legal_setup_action_trust_provider(self):
        """Open the trust Stripe provider, or the setup wizard when there is none."""
        provider = self._legal_setup_providers("trust")
        active = provider.filtered(lambda p: p.state != "disabled")
        if not provider:
            return self._legal_setup_action_wizard()
        return self._legal_setup_form((active or provider)[:1])

    def _legal_setup_action_operating_provider(self):
        """Open the operating Stripe provider, or the setup wizard when there is none."""
        provider = self._legal_setup_providers("operating")
        active = provider.filtered(lambda p: p.state != "disabled")
        if not provider:
            return self._legal_setup_action_wizard()
        return self._legal_setup_form((active or provider)[:1])
