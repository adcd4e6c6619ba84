from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..utils import trust_gate_pass, trust_gate_passed

# Header fields of a posted trust entry that nobody may change afterwards (its state
# neither: see ``write``).
PROTECTED_TRUST_MOVE_FIELDS = {
    "date",
    "journal_id",
    "matter_id",
    "line_ids",
    "currency_id",
    "company_id",
    "partner_id",
    "move_type",
    "statement_line_id",
    "reversed_entry_id",
}


class AccountMove(models.Model):
    _inherit = "account.move"

    matter_id = fields.Many2one(
        "legal.matter",
        string="Matter",
        index="btree_not_null",
        check_company=True,
        tracking=True,
        domain="[('partner_id.commercial_partner_id', '=', commercial_partner_id)]",
        help="The matter this invoice or trust entry belongs to.",
    )
    is_trust_entry = fields.Boolean(
        compute="_compute_is_trust_entry",
        search="_search_is_trust_entry",
        help="The entry moves client money on the trust liability account.",
    )

    legal_trust_paid_invoice_id = fields.Many2one(
        "account.move",
        string="Invoice Paid from Trust",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="On the operating side of an invoice paid from trust: the invoice it pays.",
    )

    @api.depends("line_ids.matter_id")
    def _compute_is_trust_entry(self):
        for move in self:
            move.is_trust_entry = any(move.line_ids.mapped("matter_id"))

    def _search_is_trust_entry(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(_("Unsupported search on trust entries."))
        positive = (operator == "=") == value
        return [("line_ids.matter_id", "!=" if positive else "=", False)]

    # ------------------------------------------------------------------ trust lines
    def _legal_trust_lines(self):
        """Journal items of these moves on their company's trust liability account."""
        lines = self.env["account.move.line"]
        for move in self:
            account = move.company_id.trust_liability_account_id
            if account:
                lines |= move.line_ids.filtered(lambda line, a=account: line.account_id == a)
        return lines

    def _legal_is_trust_posting(self):
        """Whether posting or changing this move is a trust posting (gated, locked)."""
        self.ensure_one()
        if self._legal_trust_lines():
            return True
        if self.statement_line_id:
            # Bank statement lines are the bank's side of the reconciliation.
            return False
        trust_account_ids = self.company_id._legal_trust_bank_account_ids()
        return any(account.id in trust_account_ids for account in self.line_ids.account_id)

    def _legal_check_trust_move(self):
        """Check a trust entry before it is posted (called by the gate).

        :raise UserError: trust liability items without a matter of the same client and
            company, on a closed matter, outside a trust journal; trust bank money paid
            out by an operating journal; a person's posting dated on or before a done
            reconciliation (the system's is moved to the first open date)
        """
        self.ensure_one()
        trust_lines = self._legal_trust_lines()
        stray = self.line_ids.filtered("matter_id") - trust_lines
        if stray:
            raise UserError(_("Only trust liability items carry a matter (%s).", self.display_name))
        if trust_lines and not self.journal_id.is_trust_account:
            raise UserError(
                _(
                    "Client trust money can only be recorded in a trust bank journal, "
                    "not in %s.",
                    self.journal_id.display_name,
                )
            )
        for line in trust_lines:
            matter = line.matter_id
            if not matter:
                raise UserError(
                    _(
                        "Every item on the trust liability account needs a matter "
                        "(%s): use the matter's trust actions.",
                        self.display_name,
                    )
                )
            if matter.company_id != self.company_id:
                raise UserError(_("%s belongs to another company.", matter.display_name))
            if line.partner_id.commercial_partner_id != matter.commercial_partner_id:
                raise UserError(
                    _(
                        "The trust ledger item of %(matter)s must carry its client " "%(client)s.",
                        matter=matter.display_name,
                        client=matter.partner_id.display_name,
                    )
                )
            if matter.state != "open":
                raise UserError(
                    _("%s is closed: no trust movement can be posted on it.", matter.display_name)
                )
        if not self.journal_id.is_trust_account:
            trust_account_ids = self.company_id._legal_trust_bank_account_ids()
            if any(
                line.account_id.id in trust_account_ids
                and line.company_currency_id.compare_amounts(line.balance, 0) < 0
                for line in self.line_ids
            ):
                raise UserError(
                    _(
                        "%s would take money out of a trust bank account through an "
                        "operating journal.",
                        self.display_name,
                    )
                )
        lock_date = self.env["legal.trust.reconciliation"]._trust_lock_date(self.company_id)
        if lock_date and self.date <= lock_date and self.env.su:
            # Money booked by the system (a Stripe event, a cron) for a reconciled date is
            # never refused nor lost: it is booked on the first open date, its own date kept
            # in the reference.
            original = self.date
            self.write(
                {
                    "date": fields.Date.add(lock_date, days=1),
                    "ref": _(
                        "%(ref)s (dated %(date)s, in a reconciled period)",
                        ref=self.ref or self.name or "",
                        date=original,
                    ),
                }
            )
        elif lock_date and self.date <= lock_date:
            raise UserError(
                _(
                    "Trust accounts of %(company)s are reconciled up to %(date)s: no trust "
                    "posting can be dated on or before it.",
                    company=self.company_id.name,
                    date=lock_date,
                )
            )

    # ------------------------------------------------------------------ posting
    def _post(self, soft=True):
        """Every posting that touches client trust money goes through the matter gate.

        The gate's pass covers exactly the moves it checked and only for the standard
        posting below it: moves posted meanwhile (an exchange difference, a reversal) go
        through the gate themselves, and the records returned carry the caller's context.
        """
        trust_moves = self.filtered(
            lambda m: not trust_gate_passed(m) and m._legal_is_trust_posting()
        )
        # Only an invoice posted before (then reset to draft) can have been paid from trust.
        reposted = self.filtered(lambda m: m.move_type == "out_invoice" and m.posted_before)
        if trust_moves:
            outflow = self.env["legal.matter"]._trust_gate(trust_moves)
            posted = super(AccountMove, trust_gate_pass(self))._post(soft=soft)
            posted = posted.with_env(self.env)
            self.env["legal.matter"]._invalidate_trust_balances()
            if outflow:
                outflow._trust_after_outflow()
        else:
            posted = super()._post(soft=soft)
        for invoice in reposted & posted:
            invoice._legal_trust_reconcile_applied()
        return posted

    # ------------------------------------------------------------------ invoices paid from trust
    def _legal_trust_reconcile_applied(self):
        """Reconcile with this invoice what trust funds already paid of it.

        After an invoice paid from trust is reset to draft and posted again, the operating
        side of that payment is an open credit of the client: it pays the invoice again
        before any new trust money is applied, so trust is never applied twice.
        """
        self.ensure_one()
        receivable = self.line_ids.filtered(
            lambda line: line.account_type == "asset_receivable" and not line.reconciled
        )
        if not receivable:
            return
        applied = self.sudo().search(
            [
                ("legal_trust_paid_invoice_id", "=", self.id),
                ("state", "=", "posted"),
                ("company_id", "=", self.company_id.id),
            ]
        )
        open_credits = applied.line_ids.filtered(
            lambda line: line.account_id == receivable[:1].account_id
            and line.partner_id.commercial_partner_id == self.commercial_partner_id
            and not line.reconciled
            and line.company_currency_id.compare_amounts(line.balance, 0) < 0
        )
        if open_credits:
            (receivable[:1] | open_credits).reconcile()

    # ------------------------------------------------------------------ immutability
    def button_draft(self):
        self._legal_check_trust_immutable(_("reset to draft"))
        return super().button_draft()

    def button_cancel(self):
        self._legal_check_trust_immutable(_("cancelled"))
        return super().button_cancel()

    @api.ondelete(at_uninstall=False)
    def _unlink_except_trust_entry(self):
        """Posted trust entries are never deleted, ``force_delete`` or not."""
        self._legal_check_trust_immutable(_("deleted"))

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su and any("legal_trust_paid_invoice_id" in vals for vals in vals_list):
            raise UserError(_("Only a payment from trust links an entry to the invoice it pays."))
        return super().create(vals_list)

    def write(self, vals):
        if not trust_gate_passed(self):
            if "legal_trust_paid_invoice_id" in vals:
                raise UserError(
                    _("Only a payment from trust links an entry to the invoice it pays.")
                )
            if PROTECTED_TRUST_MOVE_FIELDS.intersection(vals) or vals.get("state", "posted") != (
                "posted"
            ):
                self._legal_check_trust_immutable(_("edited"))
        return super().write(vals)

    def _legal_check_trust_immutable(self, what):
        """Refuse to change a posted trust entry; corrections are reversals.

        :param str what: the operation, for the message
        :raise UserError: when one of the moves is a posted trust entry
        """
        for move in self:
            if move.state == "posted" and move._legal_is_trust_posting():
                raise UserError(
                    _(
                        "%(move)s is a posted trust entry and cannot be %(what)s: "
                        "reverse it instead.",
                        move=move.display_name,
                        what=what,
                    )
                )
