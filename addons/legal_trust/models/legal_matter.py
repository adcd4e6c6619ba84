from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Command
from odoo.tools import SQL

from ..utils import lock_rows, trust_gate_pass


class LegalMatter(models.Model):
    _name = "legal.matter"
    _description = "Matter"
    _inherit = ["portal.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "name desc, id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Reference",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: _("New"),
        index="trigram",
    )
    title = fields.Char(required=True, tracking=True, help="What the matter is about.")
    partner_id = fields.Many2one(
        "res.partner",
        string="Client",
        required=True,
        tracking=True,
        index=True,
        check_company=True,
    )
    commercial_partner_id = fields.Many2one(
        related="partner_id.commercial_partner_id", store=True, index=True
    )
    user_id = fields.Many2one(
        "res.users",
        string="Responsible Lawyer",
        default=lambda self: self.env.user,
        tracking=True,
        check_company=True,
    )
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id", string="Currency")
    state = fields.Selection(
        [("open", "Open"), ("closed", "Closed")],
        default="open",
        required=True,
        tracking=True,
        copy=False,
    )
    description = fields.Html()
    trust_balance = fields.Monetary(
        compute="_compute_trust_balances",
        help="All posted trust movements of the matter, cleared or not.",
    )
    trust_available = fields.Monetary(
        compute="_compute_trust_balances",
        help="Cleared trust funds: what may be disbursed or applied to invoices.",
    )
    trust_uncleared = fields.Monetary(
        compute="_compute_trust_balances",
        help="Deposits still clearing (e.g. bank debits in processing).",
    )
    trust_posting_count = fields.Integer(
        readonly=True,
        copy=False,
        help="Incremented under the row lock by every trust posting of the matter.",
    )
    trust_line_ids = fields.One2many(
        "account.move.line",
        "matter_id",
        string="Trust Ledger",
        readonly=True,
        domain=[("parent_state", "=", "posted")],
    )
    invoice_ids = fields.One2many(
        "account.move",
        "matter_id",
        string="Invoices",
        readonly=True,
        domain=[("move_type", "in", ("out_invoice", "out_refund"))],
    )
    invoice_count = fields.Integer(compute="_compute_invoice_count")

    _sql_constraints = [
        (
            "name_company_uniq",
            "unique(name, company_id)",
            "A matter reference must be unique per company.",
        ),
    ]

    # ------------------------------------------------------------------ compute
    @api.depends("title")
    def _compute_display_name(self):
        for matter in self:
            matter.display_name = f"{matter.name} - {matter.title}" if matter.title else matter.name

    def _compute_trust_balances(self):
        figures = self._trust_figures()
        for matter in self:
            balance, uncleared = figures.get(matter.id, (0.0, 0.0))
            matter.trust_balance = balance
            matter.trust_uncleared = uncleared
            matter.trust_available = matter.currency_id.round(balance - uncleared)

    def _compute_invoice_count(self):
        for matter in self:
            matter.invoice_count = len(matter.invoice_ids)

    def _compute_access_url(self):  # pylint: disable=missing-return
        for matter in self:
            matter.access_url = f"/my/matters/{matter.id}"

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", _("New")) == _("New"):
                company = self.env["res.company"].browse(
                    vals.get("company_id") or self.env.company.id
                )
                vals["name"] = self.env["ir.sequence"].with_company(company).next_by_code(
                    "legal.matter"
                ) or _("New")
        return super().create(vals_list)

    def write(self, vals):
        if "partner_id" in vals or "company_id" in vals:
            for matter in self:
                if matter.trust_line_ids or matter.invoice_ids:
                    raise UserError(
                        _(
                            "The client of %s cannot be changed: it already has trust "
                            "movements or invoices.",
                            matter.display_name,
                        )
                    )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_with_history(self):
        for matter in self:
            if matter.sudo().trust_line_ids or matter.sudo().invoice_ids:
                raise UserError(
                    _(
                        "%s has trust movements or invoices and cannot be deleted: "
                        "close it instead.",
                        matter.display_name,
                    )
                )

    # ------------------------------------------------------------------ actions
    def action_close(self):
        for matter in self:
            if not matter.currency_id.is_zero(matter.trust_balance):
                raise UserError(
                    _(
                        "%(matter)s still holds %(amount)s in trust: disburse, transfer or "
                        "refund it before closing the matter.",
                        matter=matter.display_name,
                        amount=matter._format_amount(matter.trust_balance),
                    )
                )
        self.write({"state": "closed"})

    def action_reopen(self):
        self.write({"state": "open"})

    def action_view_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "account.action_move_out_invoice_type"
        )
        action["domain"] = [("matter_id", "=", self.id)]
        action["context"] = {
            "default_move_type": "out_invoice",
            "default_partner_id": self.partner_id.id,
            "default_matter_id": self.id,
        }
        return action

    def action_view_trust_ledger(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Trust Ledger: %s", self.display_name),
            "res_model": "account.move.line",
            "view_mode": "list,pivot",
            "views": [
                (self.env.ref("legal_trust.view_trust_ledger_line_list").id, "list"),
                (False, "pivot"),
            ],
            "domain": [("matter_id", "=", self.id), ("parent_state", "=", "posted")],
            "context": {"search_default_group_by_matter": 0},
        }

    def _open_trust_wizard(self, movement):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": dict(self.env["legal.trust.movement.wizard"]._fields["movement"].selection)[
                movement
            ],
            "res_model": "legal.trust.movement.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_matter_id": self.id, "default_movement": movement},
        }

    def action_trust_deposit(self):
        return self._open_trust_wizard("deposit")

    def action_trust_disburse(self):
        return self._open_trust_wizard("disburse")

    def action_trust_transfer(self):
        return self._open_trust_wizard("transfer")

    def action_trust_pay_invoice(self):
        return self._open_trust_wizard("pay_invoice")

    # ------------------------------------------------------------------ public API
    def trust_deposit(self, amount, journal_id=None, date=None, memo=None, cleared=True):
        """Record money received into trust for this matter: Dr trust bank, Cr trust ledger.

        :param float amount: positive amount in the company currency
        :param int journal_id: trust bank journal (default: the company's first one)
        :param date: accounting date (default today; never in the future)
        :param str memo: label of the movement
        :param bool cleared: False for funds still clearing (ACH processing): they count
            in ``trust_balance`` but not in ``trust_available`` until
            :meth:`trust_clear_deposit`
        :return: id of the posted ``account.move``
        :raise UserError/ValidationError: bad input, closed matter, locked period
        """
        self.ensure_one()
        self._trust_check_access("user")
        journal = self._trust_journal(journal_id)
        amount = self._trust_amount(amount)
        memo = memo or _("Trust deposit")
        move = self._trust_post_move(
            journal,
            date,
            memo,
            [
                self._trust_bank_line(journal, memo, debit=amount),
                self._trust_ledger_line(memo, credit=amount, uncleared=not cleared),
            ],
        )
        return move.id

    def trust_disburse(self, amount, payee_partner_id, journal_id=None, date=None, memo=None):
        """Pay trust money of this matter out to a payee: Dr trust ledger, Cr trust bank.

        :param float amount: positive amount, at most ``trust_available``
        :param int payee_partner_id: who receives the money (on the bank line)
        :return: id of the posted ``account.move``
        :raise ValidationError: when it would overdraw the matter
        """
        self.ensure_one()
        self._trust_check_access("manager")
        journal = self._trust_journal(journal_id)
        amount = self._trust_amount(amount)
        payee = self.env["res.partner"].browse(payee_partner_id).exists()
        if not payee:
            raise UserError(_("Choose the payee of the disbursement."))
        memo = memo or _("Trust disbursement to %s", payee.display_name)
        move = self._trust_post_move(
            journal,
            date,
            memo,
            [
                self._trust_ledger_line(memo, debit=amount),
                self._trust_bank_line(journal, memo, credit=amount, partner=payee),
            ],
        )
        return move.id

    def trust_transfer(self, to_matter_id, amount, memo=None, date=None):
        """Move trust money between two matters of the same client.

        :return: id of the posted ``account.move`` (Dr this matter, Cr the other)
        :raise UserError: other client or company, same matter
        :raise ValidationError: when it would overdraw this matter
        """
        self.ensure_one()
        self._trust_check_access("manager")
        target = self.browse(to_matter_id).exists()
        if not target or target == self:
            raise UserError(_("Choose another matter to transfer the trust funds to."))
        if (
            target.commercial_partner_id != self.commercial_partner_id
            or target.company_id != self.company_id
        ):
            raise UserError(
                _(
                    "Trust funds can only be transferred between matters of the same client "
                    "(%(from_matter)s belongs to %(client)s).",
                    from_matter=self.display_name,
                    client=self.partner_id.display_name,
                )
            )
        amount = self._trust_amount(amount)
        memo = memo or _(
            "Transfer %(from_matter)s → %(target)s", from_matter=self.name, target=target.name
        )
        move = self._trust_post_move(
            self.company_id._legal_default_trust_journal(),
            date,
            memo,
            [
                self._trust_ledger_line(memo, debit=amount),
                target._trust_ledger_line(memo, credit=amount),
            ],
        )
        return move.id

    def trust_pay_invoice(self, invoice_id, amount=None, operating_journal_id=None, date=None):
        """Apply trust funds of this matter to a posted customer invoice of the matter.

        In the trust journal: Dr trust ledger, Cr trust bank; in the operating journal:
        Dr operating bank, Cr receivable, reconciled with the invoice. Both in the
        current database transaction.

        :param int invoice_id: posted customer invoice of this client and matter
        :param float amount: default the invoice's residual; never above it
        :return: ids of the trust move and of the operating move
        :raise UserError: wrong invoice, amount above residual, no operating journal
        :raise ValidationError: when it would overdraw the matter
        """
        self.ensure_one()
        self._trust_check_access("manager")
        invoice = self.env["account.move"].sudo().browse(invoice_id).exists()
        if (
            not invoice
            or invoice.move_type != "out_invoice"
            or invoice.state != "posted"
            or invoice.company_id != self.company_id
        ):
            raise UserError(_("Only a posted customer invoice can be paid from trust."))
        if invoice.commercial_partner_id != self.commercial_partner_id or (
            invoice.matter_id and invoice.matter_id != self
        ):
            raise UserError(
                _(
                    "%(invoice)s is not an invoice of %(matter)s: trust money of a matter "
                    "only pays that matter's invoices.",
                    invoice=invoice.display_name,
                    matter=self.display_name,
                )
            )
        if invoice.currency_id != self.currency_id:
            raise UserError(_("Only invoices in %s can be paid from trust.", self.currency_id.name))
        # Lock the invoice before reading what is left to pay: a card or plan payment of it
        # committed meanwhile makes this transaction retry and read the new residual, so
        # trust money never overpays an invoice.
        lock_rows(invoice)
        invoice._legal_trust_reconcile_applied()
        residual = invoice.amount_residual
        if self.currency_id.is_zero(residual) and amount is None:
            raise UserError(_("%s has nothing left to pay.", invoice.display_name))
        amount = self._trust_amount(residual if amount is None else amount)
        if self.currency_id.compare_amounts(amount, residual) > 0:
            raise UserError(
                _(
                    "%(invoice)s has %(residual)s left to pay: %(amount)s is too much.",
                    invoice=invoice.display_name,
                    residual=self._format_amount(residual),
                    amount=self._format_amount(amount),
                )
            )
        operating = self._trust_operating_journal(operating_journal_id)
        trust_journal = self.company_id._legal_default_trust_journal()
        memo = _("Trust funds applied to %s", invoice.name)
        trust_move = self._trust_post_move(
            trust_journal,
            date,
            memo,
            [
                self._trust_ledger_line(memo, debit=amount),
                self._trust_bank_line(trust_journal, memo, credit=amount),
            ],
        )
        receivable_lines = invoice.line_ids.filtered(
            lambda line: line.account_type == "asset_receivable" and not line.reconciled
        )
        operating_move = (
            self.env["account.move"]
            .sudo()
            .create(
                {
                    "move_type": "entry",
                    "journal_id": operating.id,
                    "date": trust_move.date,
                    "ref": memo,
                    "matter_id": self.id,
                    "legal_trust_paid_invoice_id": invoice.id,
                    "line_ids": [
                        Command.create(
                            {
                                "name": memo,
                                "account_id": operating.default_account_id.id,
                                "partner_id": invoice.commercial_partner_id.id,
                                "debit": amount,
                            }
                        ),
                        Command.create(
                            {
                                "name": memo,
                                "account_id": receivable_lines[:1].account_id.id,
                                "partner_id": invoice.commercial_partner_id.id,
                                "credit": amount,
                            }
                        ),
                    ],
                }
            )
        )
        operating_move._post(soft=False)
        (operating_move.line_ids | receivable_lines).filtered(
            lambda line: line.account_id == receivable_lines[:1].account_id and not line.reconciled
        ).reconcile()
        self.message_post(
            body=_(
                "%(amount)s of trust funds applied to invoice %(invoice)s.",
                amount=self._format_amount(amount),
                invoice=invoice.name,
            )
        )
        return [trust_move.id, operating_move.id]

    def trust_clear_deposit(self, move_id):
        """Mark an uncleared deposit of this matter as cleared (its funds settled).

        :return: True; False when the deposit was already cleared (idempotent)
        :raise UserError: the move is not an uncleared deposit of this matter
        """
        self.ensure_one()
        self._trust_check_access("manager")
        move = self.env["account.move"].sudo().browse(move_id).exists()
        lines = move._legal_trust_lines().filtered(lambda line: line.matter_id == self)
        if not move or move.state != "posted" or not lines:
            raise UserError(_("This is not a posted trust deposit of %s.", self.display_name))
        if move.reversal_move_ids.filtered(lambda m: m.state == "posted"):
            raise UserError(_("%s was reversed: its funds can no longer clear.", move.display_name))
        self._trust_lock()
        if not lines.filtered("trust_uncleared"):
            return False
        trust_gate_pass(lines).write({"trust_uncleared": False})
        self._invalidate_trust_balances()
        return True

    def trust_reverse(self, move_id, date=None, memo=None):
        """Reverse a posted trust entry of this matter (the correction of a mistake or a
        failed deposit). Goes through the gate: reversing a deposit already spent is refused.

        :return: id of the posted reversal
        :raise UserError: not a trust entry of this matter, or already reversed
        :raise ValidationError: when the reversal would overdraw the matter
        """
        self.ensure_one()
        self._trust_check_access("manager")
        move = self.env["account.move"].sudo().browse(move_id).exists()
        if not move or move.state != "posted" or self not in move._legal_trust_lines().matter_id:
            raise UserError(_("This is not a posted trust entry of %s.", self.display_name))
        if move.reversal_move_ids.filtered(lambda m: m.state == "posted"):
            raise UserError(_("%s has already been reversed.", move.display_name))
        values = {
            "date": self._trust_date(date),
            "ref": memo or _("Reversal of: %s", move.ref or move.name),
        }
        # In a savepoint, like every trust posting: a refused reversal leaves no draft behind.
        with self.env.cr.savepoint():
            reversal = move._reverse_moves([values])
            reversal._post(soft=False)
        return reversal.id

    # ------------------------------------------------------------------ the gate
    @api.model
    def _trust_gate(self, moves):
        """The one gate of every posting that touches client trust money.

        Checks the trust lines (matter, client, journal, reconciliation lock) and who posts
        (:meth:`_trust_check_posting_role`), locks the matters' rows and writes to them,
        then refuses any posting that would take a matter's available funds below zero on
        its date or on any later date (a back-dated outflow must not overdraw the past).
        Called by ``account.move._post``; nothing a caller sends can switch it off.

        Odoo's cursors run at REPEATABLE READ: writing to the locked row makes a
        concurrent transaction that waited for the lock fail with a serialization error
        (retried by the web/RPC layer, or by :func:`..utils.retry_serialization`)
        instead of reading a stale balance.

        :param moves: ``account.move`` records about to be posted
        :return: the matters whose available funds these moves reduce
        :raise ValidationError: overdraft, on the posting date or later
        :raise AccessError: money out of trust posted by someone who is not a trust manager
        :raise UserError: inconsistent trust lines, closed matter, locked period
        """
        lines = moves._legal_trust_lines()
        for move in moves:
            move._legal_check_trust_move()
        self._trust_check_posting_role(moves, lines)
        matters = lines.matter_id
        outflow = self.browse()
        if not matters:
            return outflow
        matters._trust_lock()
        # Change of each matter's available funds, by accounting date.
        deltas = defaultdict(lambda: defaultdict(float))
        for line in lines:
            if not line.trust_uncleared:
                deltas[line.matter_id][line.move_id.date] -= line.balance
        reduced = {
            matter: by_date
            for matter, by_date in deltas.items()
            if any(matter.currency_id.compare_amounts(v, 0) < 0 for v in by_date.values())
        }
        if not reduced:
            return outflow
        since = min(min(by_date) for by_date in reduced.values())
        history = self.browse([m.id for m in reduced])._trust_available_by_date(since)
        for matter, by_date in reduced.items():
            if matter.currency_id.compare_amounts(sum(by_date.values()), 0) < 0:
                outflow |= matter
            matter._trust_check_no_overdraft(history.get(matter.id, {}), by_date)
        return outflow

    @api.model
    def _trust_check_posting_role(self, moves, trust_lines):
        """Money out of trust needs a Trust Manager; any other trust posting a Trust User.

        Money out is a debit of a client trust ledger, a credit of a trust bank or
        clearing account, or the reversal of a trust entry, whatever the path: the trust
        API, a manual journal entry, Odoo's Reverse. Code running as superuser (the trust
        API after its own check, payment flows, crons) is not asked again.

        :raise AccessError: when the current user lacks the role
        """
        if self.env.su:
            return
        money_out = bool(moves.reversed_entry_id) or any(
            line.company_currency_id.compare_amounts(line.balance, 0) > 0 for line in trust_lines
        )
        if not money_out:
            for move in moves:
                bank_ids = move.company_id._legal_trust_bank_account_ids()
                if any(
                    line.account_id.id in bank_ids
                    and line.company_currency_id.compare_amounts(line.balance, 0) < 0
                    for line in move.line_ids
                ):
                    money_out = True
                    break
        self._trust_check_access("manager" if money_out else "user")

    def _trust_available_by_date(self, since):
        """Available trust funds of these matters by day, from ``since`` on, by SQL.

        :param since: first date of interest; everything dated before it is summed into it
        :return: ``{matter_id: {date: change of available funds on that date}}``, the change
            on ``since`` holding the opening balance
        """
        if not self.ids:
            return {}
        accounts = self._trust_ledger_accounts()
        self.env.cr.execute(
            SQL(
                """
                SELECT matter_id, GREATEST(date, %s),
                       SUM(CASE WHEN trust_uncleared THEN 0 ELSE -balance END)
                  FROM account_move_line
                 WHERE matter_id = ANY(%s)
                   AND parent_state = 'posted'
                   AND account_id = ANY(%s)
              GROUP BY 1, 2
                """,
                since,
                self.ids,
                accounts,
            )
        )
        result = defaultdict(dict)
        for matter_id, day, amount in self.env.cr.fetchall():
            result[matter_id][day] = amount or 0.0
        return result

    def _trust_ledger_accounts(self):
        """The trust liability accounts of these matters' companies, their journal items
        flushed for the SQL that sums them.

        :return: account ids (``[0]`` when none: matches nothing)
        """
        self.env["account.move.line"].flush_model(
            ["balance", "matter_id", "trust_uncleared", "parent_state", "date", "account_id"]
        )
        return self.sudo().company_id.trust_liability_account_id.ids or [0]

    def _trust_check_no_overdraft(self, history, changes):
        """Refuse when ``changes`` would leave this matter below zero on some day.

        :param dict history: ``{date: change}`` of the posted ledger (see
            :meth:`_trust_available_by_date`)
        :param dict changes: ``{date: change}`` of the posting being checked
        :raise ValidationError: on the first day the matter would be overdrawn
        """
        self.ensure_one()
        currency = self.currency_id
        before = after = 0.0
        for day in sorted(set(history) | set(changes)):
            before += history.get(day, 0.0)
            after += history.get(day, 0.0) + changes.get(day, 0.0)
            if (
                currency.compare_amounts(after, 0) < 0
                and currency.compare_amounts(after, before) < 0
            ):
                raise ValidationError(
                    _(
                        "Trust overdraft refused on %(matter)s: %(available)s available on "
                        "%(date)s, this movement needs %(needed)s. A client's trust ledger "
                        "can never go below zero, on any day.",
                        matter=self.display_name,
                        available=self._format_amount(currency.round(before)),
                        date=fields.Date.to_string(day),
                        needed=self._format_amount(currency.round(before - after)),
                    )
                )

    def _trust_after_outflow(self):
        """Hook called after a posting reduced these matters' available trust funds
        (disbursement, invoice paid from trust, transfer out, refund, dispute, reversal).

        Does nothing here; ``legal_retainers`` requests evergreen top-ups from it.
        """

    def _invalidate_trust_balances(self):
        """Forget the computed balances: the next read sums the ledger again."""
        self.env["legal.matter"].invalidate_model(
            ["trust_balance", "trust_available", "trust_uncleared"]
        )

    def _trust_lock(self):
        """Lock the matters' rows in id order and write to them (see :meth:`_trust_gate`)."""
        if not self:
            return
        self.env["account.move.line"].flush_model()
        self.env["account.move"].flush_model()
        self.flush_model(["trust_posting_count"])
        self.env.cr.execute(
            SQL(
                "SELECT id FROM legal_matter WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
                sorted(self.ids),
            )
        )
        self.env.cr.execute(
            SQL(
                "UPDATE legal_matter SET trust_posting_count = trust_posting_count + 1 "
                "WHERE id = ANY(%s)",
                self.ids,
            )
        )
        self.invalidate_recordset(["trust_posting_count"])

    def _trust_figures(self, date=None):
        """Posted trust balance and uncleared deposits of each matter, by SQL.

        :param date: only movements dated on or before it (default: all)
        :return: ``{matter_id: (balance, uncleared)}`` in company currency
        """
        if not self.ids:
            return {}
        accounts = self._trust_ledger_accounts()
        self.env.cr.execute(
            SQL(
                """
                SELECT matter_id,
                       SUM(-balance),
                       SUM(CASE WHEN trust_uncleared THEN -balance ELSE 0 END)
                  FROM account_move_line
                 WHERE matter_id = ANY(%s)
                   AND parent_state = 'posted'
                   AND account_id = ANY(%s)
                   %s
              GROUP BY matter_id
                """,
                self.ids,
                accounts,
                SQL("AND date <= %s", date) if date else SQL(),
            )
        )
        return {row[0]: (row[1] or 0.0, row[2] or 0.0) for row in self.env.cr.fetchall()}

    # ------------------------------------------------------------------ helpers
    def _trust_check_access(self, level):
        """Trust User records deposits; Trust Manager disburses, transfers, pays, reverses.

        :raise AccessError: when the current user lacks the group
        """
        if self.env.su:
            return
        group = (
            "legal_trust.group_trust_manager"
            if level == "manager"
            else ("legal_trust.group_trust_user")
        )
        if not self.env.user.has_group(group):
            raise AccessError(_("Only members of %s may do this.", self.env.ref(group).full_name))
        self.check_access("read")

    def _trust_journal(self, journal_id):
        self.ensure_one()
        if not journal_id:
            return self.company_id._legal_default_trust_journal()
        journal = self.env["account.journal"].sudo().browse(journal_id).exists()
        if not journal or not journal.is_trust_account or journal.company_id != self.company_id:
            raise UserError(
                _(
                    "Trust movements of %s need a trust bank journal of its company.",
                    self.display_name,
                )
            )
        return journal

    def _trust_operating_journal(self, journal_id):
        self.ensure_one()
        Journal = self.env["account.journal"].sudo()
        if journal_id:
            journal = Journal.browse(journal_id).exists()
        else:
            journal = Journal.search(
                [
                    ("company_id", "=", self.company_id.id),
                    ("type", "=", "bank"),
                    ("is_trust_account", "=", False),
                ],
                limit=1,
            )
        if not journal or journal.is_trust_account or journal.type not in ("bank", "cash"):
            raise UserError(_("An operating bank journal is needed to receive the trust funds."))
        return journal

    def _trust_amount(self, amount):
        """Validate and round an amount of money in the matter's currency."""
        self.ensure_one()
        try:
            amount = self.currency_id.round(float(amount))
        except (TypeError, ValueError) as exc:
            raise UserError(_("The amount must be a number.")) from exc
        if self.currency_id.compare_amounts(amount, 0) <= 0:
            raise UserError(_("The amount of a trust movement must be positive."))
        return amount

    def _trust_date(self, date):
        """The accounting date of a trust movement asked by the caller.

        Never in the future. A person (not code running as superuser) is refused a date in
        a reconciled period; money booked by the system (Stripe, crons) for such a date is
        moved by the gate to the first open date instead (see
        ``account.move._legal_check_trust_move``).

        :raise UserError: a future date, or a reconciled date asked by a person
        """
        date = fields.Date.to_date(date) if date else fields.Date.context_today(self)
        if date > fields.Date.context_today(self):
            raise UserError(_("A trust movement cannot be dated in the future."))
        if not self.env.su:
            company = self.company_id[:1] or self.env.company
            lock_date = self.env["legal.trust.reconciliation"].sudo()._trust_lock_date(company)
            if lock_date and date <= lock_date:
                raise UserError(
                    _(
                        "Trust accounts of %(company)s are reconciled up to %(date)s: no trust "
                        "posting can be dated on or before it.",
                        company=company.name,
                        date=lock_date,
                    )
                )
        return date

    def _trust_ledger_line(self, label, debit=0.0, credit=0.0, uncleared=False):
        self.ensure_one()
        return Command.create(
            {
                "name": label,
                "account_id": self.company_id._legal_trust_liability_account().id,
                "partner_id": self.commercial_partner_id.id,
                "matter_id": self.id,
                "debit": debit,
                "credit": credit,
                "trust_uncleared": uncleared,
            }
        )

    def _trust_bank_line(self, journal, label, debit=0.0, credit=0.0, partner=None):
        self.ensure_one()
        return Command.create(
            {
                "name": label,
                "account_id": journal.default_account_id.id,
                "partner_id": (partner or self.commercial_partner_id).id,
                "debit": debit,
                "credit": credit,
            }
        )

    def _trust_post_move(self, journal, date, memo, line_commands):
        """Create and post one balanced trust entry (through the gate).

        In a savepoint: a refused posting leaves no draft behind, even for a caller that
        catches the error and goes on.
        """
        self.ensure_one()
        date = self._trust_date(date)
        with self.env.cr.savepoint():
            move = (
                self.env["account.move"]
                .sudo()
                .create(
                    {
                        "move_type": "entry",
                        "journal_id": journal.id,
                        "date": date,
                        "ref": memo,
                        "matter_id": self.id,
                        "partner_id": self.commercial_partner_id.id,
                        "line_ids": line_commands,
                    }
                )
            )
            move._post(soft=False)
        return move

    def _format_amount(self, amount):
        from odoo.tools import format_amount

        return format_amount(self.env, amount, self.currency_id)

    # ------------------------------------------------------------------ reports
    @api.model
    def _trust_balances_as_of(self, date, company=None):
        """Every matter's trust balance and uncleared amount as of ``date``, by SQL.

        :return: list of ``(matter_id, balance, uncleared)`` for matters with movements
        """
        company = company or self.env.company
        account = company.trust_liability_account_id
        if not account:
            return []
        self.env["account.move.line"].flush_model()
        self.env.cr.execute(
            SQL(
                """
                SELECT matter_id,
                       SUM(-balance),
                       SUM(CASE WHEN trust_uncleared THEN -balance ELSE 0 END)
                  FROM account_move_line
                 WHERE account_id = %s
                   AND date <= %s
                   AND matter_id IS NOT NULL
                   AND parent_state = 'posted'
              GROUP BY matter_id
                """,
                account.id,
                date,
            )
        )
        return self.env.cr.fetchall()

    def _trust_ledger(self, date_from=None, date_to=None):
        """The client trust ledger of this matter for a period.

        :return: dict with ``opening``, ``closing`` and ``lines`` (date, reference, memo,
            deposit, disbursement, balance, uncleared), oldest first
        """
        self.ensure_one()
        account = self.company_id.trust_liability_account_id
        opening = 0.0
        if date_from and account:
            opening = self._trust_figures(fields.Date.subtract(date_from, days=1)).get(
                self.id, (0.0, 0.0)
            )[0]
        rows = []
        if account:
            self.env["account.move.line"].flush_model()
            self.env["account.move"].flush_model(["name", "ref"])
            self.env.cr.execute(
                SQL(
                    """
                    SELECT aml.date, am.name, COALESCE(aml.name, am.ref), aml.credit,
                           aml.debit, aml.trust_uncleared, am.id
                      FROM account_move_line aml
                      JOIN account_move am ON am.id = aml.move_id
                     WHERE aml.matter_id = %s
                       AND aml.account_id = %s
                       AND aml.parent_state = 'posted'
                       %s %s
                  ORDER BY aml.date, aml.move_id, aml.id
                    """,
                    self.id,
                    account.id,
                    SQL("AND aml.date >= %s", date_from) if date_from else SQL(),
                    SQL("AND aml.date <= %s", date_to) if date_to else SQL(),
                )
            )
            rows = self.env.cr.fetchall()
        running = opening
        lines = []
        for date, reference, memo, deposit, disbursement, uncleared, move_id in rows:
            running = self.currency_id.round(running + deposit - disbursement)
            lines.append(
                {
                    "date": date,
                    "reference": reference,
                    "memo": memo,
                    "deposit": deposit,
                    "disbursement": disbursement,
                    "balance": running,
                    "uncleared": uncleared,
                    "move_id": move_id,
                }
            )
        return {"opening": opening, "closing": running, "lines": lines}

    # ------------------------------------------------------------------ demo
    @api.model
    def _demo_post_trust_movements(self):
        """Post the demo trust history: deposits, a disbursement, a transfer, a trust-paid
        invoice, all dated 60 to 35 days ago, and a balanced, done reconciliation 30 days
        ago (so that today's postings stay open)."""
        ref = self.env.ref
        today = fields.Date.context_today(self)
        day = lambda n: fields.Date.subtract(today, days=n)  # noqa: E731
        contract = ref("legal_trust.matter_harper_contract")
        lease = ref("legal_trust.matter_harper_lease")
        estate = ref("legal_trust.matter_ellis_estate")
        journal = ref("legal_trust.journal_trust_bank")
        contract.trust_deposit(5000.0, journal.id, day(60), "Initial retainer, wire")
        estate.trust_deposit(12500.0, journal.id, day(58), "Proceeds of sale of 12 Elm St")
        contract.trust_disburse(
            350.0,
            ref("legal_trust.partner_payee_registry").id,
            journal.id,
            day(50),
            "Court filing fee",
        )
        contract.trust_transfer(lease.id, 1000.0, "Move funds to lease matter", date=day(45))
        estate.trust_disburse(
            2400.0,
            ref("legal_trust.partner_payee_expert").id,
            journal.id,
            day(40),
            "Valuation report",
        )
        income = self.env["account.account"].search(
            [("company_ids", "in", contract.company_id.id), ("account_type", "=", "income")],
            limit=1,
        )
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": contract.partner_id.id,
                "matter_id": contract.id,
                "invoice_date": day(38),
                "date": day(38),
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Legal services: contract review (6.5 h)",
                            "quantity": 1,
                            "price_unit": 1200.0,
                            "account_id": income.id,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        invoice.action_post()
        contract.trust_pay_invoice(invoice.id, date=day(35))
        statement_balance = sum(
            self.env["account.move.line"]
            .search(
                [
                    ("account_id", "=", journal.default_account_id.id),
                    ("parent_state", "=", "posted"),
                ]
            )
            .mapped("balance")
        )
        reconciliation = self.env["legal.trust.reconciliation"].create(
            {
                "journal_id": journal.id,
                "date": day(30),
                "statement_balance": statement_balance,
            }
        )
        reconciliation.action_done()
