# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount

from .. import const


class LegalRefundLine(models.Model):
    """One amount owed to the client and what of it is refunded."""

    _name = "legal.refund.line"
    _description = "Client Refund Line"
    _order = "refund_id, id"
    _check_company_auto = True

    refund_id = fields.Many2one(
        "legal.refund", required=True, ondelete="cascade", index=True, check_company=True
    )
    company_id = fields.Many2one(related="refund_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="refund_id.currency_id")
    kind = fields.Selection(const.LINE_KINDS, required=True)
    description = fields.Char()
    source_line_id = fields.Many2one(
        "account.move.line",
        string="Credit Item",
        index="btree_not_null",
        check_company=True,
        help="The client's credit on its receivable that this line refunds.",
    )
    source_move_id = fields.Many2one(
        related="source_line_id.move_id", store=True, string="Credit", index="btree_not_null"
    )
    matter_id = fields.Many2one(
        "legal.matter",
        index="btree_not_null",
        check_company=True,
        help="The matter whose trust money is refunded.",
    )
    amount = fields.Monetary(required=True)
    state = fields.Selection(
        [("draft", "Draft"), ("pending", "Pending"), ("done", "Refunded"), ("failed", "Failed")],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
    )
    source_transaction_id = fields.Many2one(
        "payment.transaction",
        string="Original Payment",
        check_company=True,
        help="The card or bank payment refunded through the provider.",
    )
    transaction_id = fields.Many2one(
        "payment.transaction",
        string="Provider Refund",
        readonly=True,
        copy=False,
        check_company=True,
        index="btree_not_null",
    )
    payment_id = fields.Many2one(
        "account.payment",
        string="Payment",
        readonly=True,
        copy=False,
        check_company=True,
        index="btree_not_null",
    )
    trust_move_id = fields.Many2one(
        "account.move",
        string="Trust Disbursement",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    reversal_move_ids = fields.Many2many(
        "account.move",
        string="Reversals",
        readonly=True,
        copy=False,
        relation="legal_refund_line_reversal_rel",
    )

    # ------------------------------------------------------------------ helpers
    def _legal_source_name(self):
        self.ensure_one()
        if self.kind == "trust":
            return _("Trust balance of %s", self.matter_id.sudo().display_name)
        return self.source_line_id.sudo().move_id.display_name

    def _legal_available(self):
        """What this line's credit still allows to refund, not counting this refund.

        :rtype: float
        """
        self.ensure_one()
        if self.kind == "trust":
            matter = self.matter_id.sudo()
            matter.invalidate_recordset(["trust_balance", "trust_available", "trust_uncleared"])
            return matter.trust_available
        return self.source_line_id.sudo()._legal_refundable_amount(exclude=self)

    def _legal_idempotency_key(self, source_tx):
        """The provider's idempotency key of this line: stable across retries of the same
        refund (the refund's key, the credit and the payment refunded)."""
        self.ensure_one()
        origin = self.source_line_id.id or f"m{self.matter_id.id}"
        return f"legal-refund-{self.refund_id.idempotency_key}-{origin}-{source_tx.id}"

    def _legal_find_source_transaction(self):
        """The payment to refund through the provider, found automatically.

        :return: the sudoed done Stripe `payment.transaction` that can still refund the
            line's amount
        :raise UserError: none found, or none with enough left to refund
        """
        self.ensure_one()
        if self.source_transaction_id:
            candidates = self.source_transaction_id.sudo()
        elif self.kind == "trust":
            candidates = self.matter_id.sudo()._legal_refund_deposit_transactions()
        else:
            candidates = self.source_line_id.sudo()._legal_source_transactions()
        if not candidates:
            raise UserError(
                _(
                    "%s was not paid by card or bank debit through a payment provider: "
                    "refund it by bank transfer or cheque.",
                    self.description or self._legal_source_name(),
                )
            )
        currency = self.refund_id.currency_id
        best = max(candidates, key=lambda tx: tx._legal_refundable_amount())
        if currency.compare_amounts(best._legal_refundable_amount(), self.amount) < 0:
            raise UserError(
                _(
                    "The original payment %(ref)s allows at most %(max)s more to be refunded, "
                    "not %(amount)s: refund the rest by bank transfer or cheque.",
                    ref=best.reference,
                    max=format_amount(self.env, best._legal_refundable_amount(), currency),
                    amount=format_amount(self.env, self.amount, currency),
                )
            )
        if not self.source_transaction_id:
            self.source_transaction_id = best
        return best

    # ------------------------------------------------------------------ execution
    def _legal_execute(self):
        """Pay this line back by its refund's method (called under the credits' locks)."""
        self.ensure_one()
        method = self.refund_id.method
        if self.kind == "trust":
            if method == "provider":
                self._legal_refund_trust_by_provider()
            else:
                self._legal_refund_trust_by_bank()
        elif method == "provider":
            self._legal_refund_credit_by_provider()
        else:
            self._legal_refund_credit_by_payment()

    def _legal_memo(self):
        refund = self.refund_id
        memo = _("Refund %(ref)s to %(client)s", ref=refund.name, client=refund.partner_id.name)
        if refund.method == "cheque":
            memo = _("%(memo)s, cheque %(number)s", memo=memo, number=refund.cheque_number)
        return memo

    def _legal_refund_credit_by_payment(self):
        """Bank transfer or cheque of an operating credit: an outbound customer payment from
        the operating journal, reconciled with the credit (docs/accounting.md, entry 9: Dr AR,
        Cr outstanding payments)."""
        refund = self.refund_id
        company = refund.company_id
        journal = refund.journal_id or company._legal_operating_journal()
        if journal.is_trust_account or journal.type not in ("bank", "cash"):
            raise UserError(_("Operating credits are refunded from an operating bank journal."))
        method_line = journal.outbound_payment_method_line_ids[:1]
        if not method_line:
            raise UserError(_("%s has no outgoing payment method.", journal.display_name))
        source = self.source_line_id.sudo()
        payment = (
            self.env["account.payment"]
            .sudo()
            .create(
                {
                    "payment_type": "outbound",
                    "partner_type": "customer",
                    "partner_id": refund.partner_id.id,
                    "amount": self.amount,
                    "currency_id": company.currency_id.id,
                    "journal_id": journal.id,
                    "company_id": company.id,
                    "date": refund.date,
                    "payment_method_line_id": method_line.id,
                    "destination_account_id": source.account_id.id,
                    "memo": self._legal_memo(),
                    "payment_reference": refund.cheque_number
                    if refund.method == "cheque"
                    else refund.name,
                    "legal_refund_line_id": self.id,
                }
            )
        )
        payment.action_post()
        self.payment_id = payment
        self._legal_reconcile(payment)
        self.state = "done"

    def _legal_refund_credit_by_provider(self):
        """Refund an operating credit to the card or bank account it came from.

        The original payment is locked (and written to, so a concurrent webhook processor
        re-reads it), its refundable amount re-checked, then the refund is asked of the
        provider with an idempotency key. A succeeded refund is post-processed at once: its
        payment (Dr AR, Cr Stripe clearing) is reconciled with the credit by
        :meth:`_legal_after_provider_payment`.
        """
        tx = self._legal_lock_source_transaction()
        refund_tx = tx.with_context(
            **{
                const.IDEMPOTENCY_CONTEXT_KEY: self._legal_idempotency_key(tx),
                const.LINE_CONTEXT_KEY: self.id,
            }
        )._send_refund_request(amount_to_refund=self.amount)
        self._legal_after_provider_request(refund_tx)

    def _legal_refund_trust_by_bank(self):
        """Bank transfer or cheque of trust money: a legal_trust disbursement to the client
        (Dr trust liability, Cr trust bank), through the gate (never above available)."""
        refund = self.refund_id
        matter = self.matter_id.with_env(self.env)
        move_id = matter.trust_disburse(
            self.amount,
            refund.partner_id.id,
            journal_id=refund.trust_journal_id.id or None,
            date=refund.date,
            memo=self._legal_memo(),
        )
        self.trust_move_id = move_id
        self.state = "done"

    def _legal_refund_trust_by_provider(self):
        """Refund trust money to the card or bank account of the client's deposit.

        The disbursement (Dr trust liability, Cr Stripe trust clearing) is posted through
        the gate first: an overdraft is refused before any money leaves. Then the provider
        is asked, with an idempotency key.
        """
        tx = self._legal_lock_source_transaction()
        refund = self.refund_id
        matter = self.matter_id.with_env(self.env)
        move_id = matter.trust_disburse(
            self.amount,
            refund.partner_id.id,
            journal_id=tx.provider_id.journal_id.id,
            date=refund.date,
            memo=self._legal_memo(),
        )
        self.trust_move_id = move_id
        refund_tx = tx.with_context(
            **{
                const.IDEMPOTENCY_CONTEXT_KEY: self._legal_idempotency_key(tx),
                const.LINE_CONTEXT_KEY: self.id,
            }
        )._send_refund_request(amount_to_refund=self.amount)
        self._legal_after_provider_request(refund_tx)

    def _legal_lock_source_transaction(self):
        self.ensure_one()
        tx = self._legal_find_source_transaction()
        tx._legal_lock_for_refund()
        refundable = tx._legal_refundable_amount()
        if self.currency_id.compare_amounts(self.amount, refundable) > 0:
            raise UserError(
                _(
                    "The original payment %(ref)s allows at most %(max)s more to be refunded, "
                    "not %(amount)s.",
                    ref=tx.reference,
                    max=format_amount(self.env, refundable, self.currency_id),
                    amount=format_amount(self.env, self.amount, self.currency_id),
                )
            )
        return tx

    def _legal_after_provider_request(self, refund_tx):
        """Record the provider's answer to a refund request."""
        self.transaction_id = refund_tx
        if refund_tx.state == "done":
            self.state = "pending"
            refund_tx._post_process()
        elif refund_tx.state in ("draft", "pending", "authorized"):
            self.state = "pending"
        else:
            raise UserError(
                _(
                    "The payment provider refused the refund: %s",
                    refund_tx.state_message or refund_tx.state,
                )
            )

    # ------------------------------------------------------------------ bookkeeping
    def _legal_reconcile(self, payment):
        """Reconcile the refund payment's receivable item with this line's credit."""
        self.ensure_one()
        source = self.source_line_id.sudo()
        if not source:
            return
        debit = payment.move_id.line_ids.filtered(
            lambda line: line.account_id == source.account_id and not line.reconciled
        )
        if debit and not source.reconciled:
            (debit | source).reconcile()

    @api.model
    def _legal_after_provider_payment(self, refund_tx, payment):
        """Called once the provider's refund is post-processed with its payment.

        :param refund_tx: the done refund `payment.transaction`
        :param payment: its outbound `account.payment` (Dr AR, Cr Stripe clearing)
        """
        lines = self.sudo().search([("transaction_id", "=", refund_tx.id)])
        for line in lines.filtered(lambda line: line.state in ("draft", "pending")):
            if line.kind != "trust":
                line.payment_id = payment
                line._legal_reconcile(payment)
            line.state = "done"
        if payment:
            payment.legal_refund_line_id = lines[:1]
        lines.refund_id._legal_update_state()

    @api.model
    def _legal_after_provider_trust_refund(self, refund_tx):
        """Book a done provider refund of a trust deposit (no `account.payment`).

        From the wizard the disbursement was posted before the request; a dashboard refund
        is disbursed now, through the gate, from the deposit's matter (Dr trust liability,
        Cr Stripe trust clearing). What the matter no longer holds is the firm's: booked as
        a receivable from the client, with a replenishment of trust by the firm.
        """
        lines = self.sudo().search([("transaction_id", "=", refund_tx.id)])
        for line in lines.filtered(lambda line: line.state in ("draft", "pending")):
            if not line.trust_move_id:
                line._legal_book_dashboard_trust_refund(refund_tx)
            line.state = "done"
        lines.refund_id._legal_update_state()

    def _legal_book_dashboard_trust_refund(self, refund_tx):
        self.ensure_one()
        matter = self.matter_id.sudo()
        currency = matter.currency_id
        matter.invalidate_recordset(["trust_balance", "trust_available", "trust_uncleared"])
        covered = max(0.0, min(self.amount, matter.trust_available))
        journal = refund_tx.provider_id.journal_id
        memo = _("Stripe dashboard refund %s", refund_tx.provider_reference or refund_tx.reference)
        if currency.compare_amounts(covered, 0) > 0:
            self.trust_move_id = matter.trust_disburse(
                covered, self.refund_id.partner_id.id, journal_id=journal.id, memo=memo
            )
        shortfall = currency.round(self.amount - covered)
        if currency.compare_amounts(shortfall, 0) > 0:
            client = self.refund_id.partner_id
            company = self.refund_id.company_id
            receivable = client.with_company(company).property_account_receivable_id
            move = (
                self.env["account.move"]
                .sudo()
                .create(
                    {
                        "move_type": "entry",
                        "journal_id": journal.id,
                        "company_id": company.id,
                        "ref": memo,
                        "line_ids": [
                            fields.Command.create(
                                {
                                    "name": memo,
                                    "partner_id": client.id,
                                    "account_id": receivable.id,
                                    "debit": shortfall,
                                }
                            ),
                            fields.Command.create(
                                {
                                    "name": memo,
                                    "partner_id": client.id,
                                    "account_id": journal.default_account_id.id,
                                    "credit": shortfall,
                                }
                            ),
                        ],
                    }
                )
            )
            move.action_post()
            replenish = refund_tx.source_transaction_id._legal_post_replenishment(shortfall)
            self.reversal_move_ids = [
                fields.Command.link(move.id),
                fields.Command.link(replenish.id),
            ]
            self.refund_id.message_post(
                body=_(
                    "%(amount)s refunded in the Stripe dashboard exceeded the trust funds "
                    "available on %(matter)s: booked as owed by the client, and trust was "
                    "replenished by the firm.",
                    amount=format_amount(self.env, shortfall, currency),
                    matter=matter.display_name,
                )
            )

    def _legal_on_provider_failure(self, message):
        """The provider's refund failed: reverse what this line booked and tell the user.

        The refund payment is unreconciled from the credit and its entry reversed (the credit
        is owed again); a trust disbursement is reversed through legal_trust (the money is
        back on the client's trust ledger). Idempotent.
        """
        for line in self.sudo().filtered(lambda line: line.state != "failed"):
            date = fields.Date.context_today(line)
            memo = _("Failed refund %s", line.refund_id.name)
            if line.payment_id and line.payment_id.move_id.state == "posted":
                payment = line.payment_id
                # Several lines may share a dashboard refund's payment: reverse it once.
                if not payment.move_id.reversal_move_ids:
                    reversal = payment.move_id._reverse_moves(
                        [{"date": date, "ref": memo}], cancel=True
                    )
                    payment.state = "canceled"
                    line.reversal_move_ids = [fields.Command.link(reversal.id)]
            if line.trust_move_id and not line.trust_move_id.reversal_move_ids:
                reversal_id = line.matter_id.sudo().trust_reverse(
                    line.trust_move_id.id, date=date, memo=memo
                )
                line.reversal_move_ids = [fields.Command.link(reversal_id)]
            line.state = "failed"
        refunds = self.refund_id
        refunds.filtered(lambda r: not r.failure_message).failure_message = message
        refunds._legal_update_state()
        refunds._legal_notify_failure(message)
