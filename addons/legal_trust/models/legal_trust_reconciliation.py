from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..utils import trust_gate_pass, trust_gate_passed

# Fields that only the reconciliation itself sets: its figures (computed from the books),
# its state and its sign-off. A user writing them over RPC is refused.
COMPUTED_FIGURES = (
    "deposits_in_transit",
    "outstanding_disbursements",
    "clearing_balance",
    "adjusted_bank_balance",
    "book_balance",
    "ledger_total",
    "difference",
    "ledger_difference",
    "is_balanced",
    "negative_matter_count",
)
PROTECTED_RECONCILIATION_FIELDS = {*COMPUTED_FIGURES, "state", "done_by_id", "done_on"}


class LegalTrustReconciliation(models.Model):
    """Three-way reconciliation of a company's trust accounts on a date.

    Bank side: the trust bank statement balance, adjusted by the items posted in the
    books but not yet on the statement (deposits in transit, outstanding disbursements),
    plus the other trust accounts (e.g. Stripe trust clearing). Book side: the balance of
    every trust bank journal's account. Ledger side: the sum of every matter's client
    trust ledger. A done reconciliation locks trust postings dated on or before it.
    """

    _name = "legal.trust.reconciliation"
    _description = "Three-Way Trust Reconciliation"
    _inherit = ["mail.thread"]
    _order = "date desc, id desc"
    _check_company_auto = True

    name = fields.Char(compute="_compute_name", store=True)
    journal_id = fields.Many2one(
        "account.journal",
        string="Trust Bank",
        required=True,
        check_company=True,
        domain="[('is_trust_account', '=', True), ('company_id', '=', company_id)]",
    )
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    date = fields.Date(required=True, default=fields.Date.context_today, tracking=True)
    state = fields.Selection(
        [("draft", "Draft"), ("done", "Done")],
        default="draft",
        required=True,
        tracking=True,
        copy=False,
    )
    statement_id = fields.Many2one(
        "account.bank.statement",
        string="Bank Statement",
        check_company=True,
        domain="[('journal_id', '=', journal_id), ('date', '<=', date)]",
        help="Latest statement of the trust bank on or before the date; its ending "
        "balance is the statement balance unless you enter one.",
    )
    statement_date = fields.Date(
        help="Items posted after this date are not on the statement yet (in transit)."
    )
    statement_balance = fields.Monetary(tracking=True)
    deposits_in_transit = fields.Monetary(readonly=True)
    outstanding_disbursements = fields.Monetary(readonly=True)
    clearing_balance = fields.Monetary(
        string="Other Trust Accounts",
        readonly=True,
        help="Balance of the other trust journals (e.g. Stripe trust clearing: money the "
        "payment provider holds for trust before its payout).",
    )
    adjusted_bank_balance = fields.Monetary(readonly=True)
    book_balance = fields.Monetary(readonly=True)
    ledger_total = fields.Monetary(string="Sum of Client Ledgers", readonly=True)
    difference = fields.Monetary(readonly=True, help="Adjusted bank balance minus book balance.")
    ledger_difference = fields.Monetary(
        readonly=True, help="Book balance minus the sum of the client ledgers."
    )
    is_balanced = fields.Boolean(readonly=True)
    negative_matter_count = fields.Integer(readonly=True)
    done_by_id = fields.Many2one(
        "res.users", string="Signed Off By", readonly=True, copy=False, tracking=True
    )
    done_on = fields.Datetime(string="Signed Off On", readonly=True, copy=False, tracking=True)

    @api.depends("journal_id", "date")
    def _compute_name(self):
        for rec in self:
            rec.name = _(
                "%(journal)s on %(date)s", journal=rec.journal_id.name or "", date=rec.date or ""
            )

    @api.constrains("date", "statement_date")
    def _check_dates(self):
        today = fields.Date.context_today(self)
        for rec in self:
            if rec.date > today:
                raise ValidationError(_("A trust reconciliation cannot be dated in the future."))
            if rec.statement_date and rec.statement_date > rec.date:
                raise ValidationError(
                    _("The statement date must be on or before the reconciliation date.")
                )

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            # The figures are computed from the books right below, whatever is sent.
            for fname in COMPUTED_FIGURES:
                vals.pop(fname, None)
            if {"done_by_id", "done_on"}.intersection(vals) or vals.get(
                "state", "draft"
            ) != "draft":
                raise UserError(
                    _(
                        "The figures, status and sign-off of a trust reconciliation are set "
                        "by the reconciliation itself."
                    )
                )
            if "statement_balance" not in vals and vals.get("journal_id") and vals.get("date"):
                statement = self._latest_statement(vals["journal_id"], vals["date"])
                if statement:
                    vals.setdefault("statement_id", statement.id)
                    vals["statement_balance"] = statement.balance_end_real
                    vals.setdefault("statement_date", statement.date)
            vals.setdefault("statement_date", vals.get("date"))
        records = super().create(vals_list)
        records._refresh_figures()
        return records

    def write(self, vals):
        if not trust_gate_passed(self):
            if PROTECTED_RECONCILIATION_FIELDS.intersection(vals):
                raise UserError(
                    _(
                        "The figures, status and sign-off of a trust reconciliation are set "
                        "by the reconciliation itself: use Recompute, Mark as Reconciled or "
                        "Reopen."
                    )
                )
            if any(rec.state == "done" for rec in self) and set(vals) - {
                "message_main_attachment_id"
            }:
                raise UserError(_("A done trust reconciliation cannot be changed."))
        res = super().write(vals)
        if {"journal_id", "date", "statement_balance", "statement_date"} & set(vals):
            self._refresh_figures()
        return res

    @api.ondelete(at_uninstall=False)
    def _unlink_except_done(self):
        if any(rec.state == "done" for rec in self):
            raise UserError(_("A done trust reconciliation cannot be deleted."))

    @api.onchange("statement_id")
    def _onchange_statement_id(self):
        if self.statement_id:
            self.statement_balance = self.statement_id.balance_end_real
            self.statement_date = self.statement_id.date

    @api.model
    def _latest_statement(self, journal_id, date):
        return self.env["account.bank.statement"].search(
            [("journal_id", "=", journal_id), ("date", "<=", date)],
            order="date desc, id desc",
            limit=1,
        )

    # ------------------------------------------------------------------ figures
    def _refresh_figures(self):
        for rec in self.filtered(lambda r: r.state == "draft"):
            trust_gate_pass(rec).write(rec._compute_figures())

    def _compute_figures(self):
        """Compute the three sides by SQL aggregates (no Python loop over items).

        :return: dict of the figure fields
        """
        self.ensure_one()
        currency = self.currency_id
        journals = self.company_id._legal_trust_journals()
        other_accounts = (journals - self.journal_id).default_account_id
        book = self._sum_balance(journals.default_account_id)
        clearing = self._sum_balance(other_accounts)
        in_transit, outstanding = self._unpresented_totals()
        ledger = 0.0
        negative = 0
        for _matter_id, balance, _uncleared in self.env["legal.matter"]._trust_balances_as_of(
            self.date, self.company_id
        ):
            ledger += balance
            negative += currency.compare_amounts(balance, 0) < 0
        adjusted = currency.round(self.statement_balance + in_transit - outstanding + clearing)
        book = currency.round(book)
        ledger = currency.round(ledger)
        difference = currency.round(adjusted - book)
        ledger_difference = currency.round(book - ledger)
        return {
            "deposits_in_transit": in_transit,
            "outstanding_disbursements": outstanding,
            "clearing_balance": clearing,
            "adjusted_bank_balance": adjusted,
            "book_balance": book,
            "ledger_total": ledger,
            "difference": difference,
            "ledger_difference": ledger_difference,
            "negative_matter_count": negative,
            "is_balanced": currency.is_zero(difference)
            and currency.is_zero(ledger_difference)
            and not negative,
        }

    def _sum_balance(self, accounts):
        if not accounts:
            return 0.0
        self.env["account.move.line"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT COALESCE(SUM(balance), 0)
                  FROM account_move_line
                 WHERE account_id = ANY(%s) AND date <= %s AND parent_state = 'posted'
                   AND company_id = %s
                   -- bank statement lines are the bank's side (statement balance), not books
                   AND statement_line_id IS NULL
                """,
                accounts.ids,
                self.date,
                self.company_id.id,
            )
        )
        return self.env.cr.fetchone()[0]

    def _unpresented_domain_sql(self):
        return SQL(
            """
              FROM account_move_line aml
              JOIN account_move am ON am.id = aml.move_id
             WHERE aml.account_id = %s
               AND aml.parent_state = 'posted'
               AND aml.statement_line_id IS NULL
               AND aml.date > %s AND aml.date <= %s
            """,
            self.journal_id.default_account_id.id,
            self.statement_date or self.date,
            self.date,
        )

    def _unpresented_totals(self):
        """Deposits in transit and outstanding disbursements of the trust bank.

        Items posted in the books after the statement date and up to the reconciliation
        date are not on the statement yet.
        """
        self.env["account.move.line"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT COALESCE(SUM(GREATEST(aml.balance, 0)), 0),
                       COALESCE(SUM(GREATEST(-aml.balance, 0)), 0)
                %s
                """,
                self._unpresented_domain_sql(),
            )
        )
        return self.env.cr.fetchone()

    def _get_unpresented_items(self):
        """The unreconciled items listed on the report.

        :return: list of dicts (date, reference, label, partner, amount)
        """
        self.ensure_one()
        self.env["account.move.line"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT aml.date, am.name, aml.name, aml.partner_id, aml.balance
                %s
              ORDER BY aml.date, aml.id
                """,
                self._unpresented_domain_sql(),
            )
        )
        Partner = self.env["res.partner"]
        return [
            {
                "date": date,
                "reference": ref,
                "label": label,
                "partner": Partner.browse(partner_id).display_name if partner_id else "",
                "amount": amount,
            }
            for date, ref, label, partner_id, amount in self.env.cr.fetchall()
        ]

    def _get_matter_balances(self):
        """Client ledger balances as of the date, for the report."""
        self.ensure_one()
        rows = self.env["legal.matter"]._trust_balances_as_of(self.date, self.company_id)
        matters = self.env["legal.matter"].browse([r[0] for r in rows])
        names = {m.id: (m.display_name, m.partner_id.display_name) for m in matters}
        return [
            {
                "matter": names[matter_id][0],
                "client": names[matter_id][1],
                "balance": balance,
                "uncleared": uncleared,
            }
            for matter_id, balance, uncleared in rows
            if not self.currency_id.is_zero(balance)
        ]

    # ------------------------------------------------------------------ actions
    def action_refresh(self):
        self._refresh_figures()

    def action_done(self):
        """Lock the trust accounts up to the date: refused unless the three sides agree.

        Records who signed the reconciliation off and when.

        :raise AccessError: for anyone but a Trust Manager
        :raise UserError: not a draft, sides that disagree, a later date already done
        """
        self.env["legal.matter"]._trust_check_access("manager")
        for rec in self:
            if rec.state != "draft":
                raise UserError(_("Only a draft reconciliation can be marked done."))
            rec._refresh_figures()
            if not rec.is_balanced:
                raise UserError(
                    _(
                        "The three sides do not agree (bank − book: %(diff)s, book − ledgers: "
                        "%(ldiff)s, matters below zero: %(neg)s): find the differences "
                        "before marking the reconciliation done.",
                        diff=rec.difference,
                        ldiff=rec.ledger_difference,
                        neg=rec.negative_matter_count,
                    )
                )
            later = self.search(
                [
                    ("company_id", "=", rec.company_id.id),
                    ("state", "=", "done"),
                    ("date", ">=", rec.date),
                ],
                limit=1,
            )
            if later:
                raise UserError(
                    _("The trust accounts are already reconciled up to %s.", later.date)
                )
        trust_gate_pass(self).write(
            {"state": "done", "done_by_id": self.env.uid, "done_on": fields.Datetime.now()}
        )

    def action_reopen(self, reason):
        """Reopen a done reconciliation, the latest of its company: trust postings dated
        after the previous done one are open again. Only a Trust Manager, with a reason,
        which the chatter keeps beside who reopened it and when.

        :param str reason: why the reconciliation is reopened
        :raise AccessError: for anyone but a Trust Manager
        :raise UserError: no reason, not done, or a later reconciliation is done
        """
        self.env["legal.matter"]._trust_check_access("manager")
        reason = (reason or "").strip()
        if not reason:
            raise UserError(_("Say why the trust reconciliation is reopened."))
        for rec in self:
            if rec.state != "done":
                raise UserError(_("Only a done reconciliation can be reopened."))
            if self.search_count(
                [
                    ("company_id", "=", rec.company_id.id),
                    ("state", "=", "done"),
                    ("date", ">", rec.date),
                ],
                limit=1,
            ):
                raise UserError(
                    _("Reopen the later reconciliations of %s first.", rec.company_id.name)
                )
            signed_off = rec.done_by_id.name
            trust_gate_pass(rec).write({"state": "draft", "done_by_id": False, "done_on": False})
            rec.message_post(
                body=_(
                    "Reopened by %(user)s (signed off by %(signed)s): %(reason)s",
                    user=self.env.user.name,
                    signed=signed_off or "-",
                    reason=reason,
                )
            )
        self._refresh_figures()
        return True

    def action_open_reopen_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Reopen the Trust Reconciliation"),
            "res_model": "legal.trust.reconciliation.reopen",
            "view_mode": "form",
            "target": "new",
            "context": {"default_reconciliation_id": self.id},
        }

    @api.model
    def _trust_lock_date(self, company):
        """Date of the latest done reconciliation of the company (or None)."""
        self.flush_model(["state", "date", "company_id"])
        self.env.cr.execute(
            SQL(
                "SELECT MAX(date) FROM legal_trust_reconciliation "
                "WHERE company_id = %s AND state = 'done'",
                company.id,
            )
        )
        return self.env.cr.fetchone()[0]

    def action_print(self):
        return self.env.ref("legal_trust.action_report_trust_reconciliation").report_action(self)
