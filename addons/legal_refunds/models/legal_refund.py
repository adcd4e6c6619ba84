# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import logging
import uuid

from markupsafe import Markup
from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Command
from odoo.tools import SQL, format_amount

from .. import const

_logger = logging.getLogger(__name__)


class LegalRefund(models.Model):
    """Money given back to a client: credit notes, unallocated payments, trust balances.

    A refund is created in draft (by the wizard or by a Stripe dashboard refund), then
    confirmed once: the credits are locked, what is still owed is re-read under the lock,
    and each line is paid back by its method. Operating credits are settled by an outbound
    payment reconciled with them; trust money leaves through the legal_trust gate.
    """

    _name = "legal.refund"
    _description = "Client Refund"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "date desc, id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Reference", required=True, readonly=True, copy=False, default=lambda self: _("New")
    )
    partner_id = fields.Many2one(
        "res.partner",
        string="Client",
        required=True,
        tracking=True,
        index=True,
        check_company=True,
        domain="[('parent_id', '=', False)]",
    )
    company_id = fields.Many2one(
        "res.company", required=True, readonly=True, default=lambda self: self.env.company
    )
    currency_id = fields.Many2one(related="company_id.currency_id", string="Currency")
    matter_id = fields.Many2one(
        "legal.matter",
        string="Matter",
        check_company=True,
        index="btree_not_null",
        tracking=True,
        help="The matter whose trust balance is refunded (e.g. a matter being closed).",
    )
    user_id = fields.Many2one(
        "res.users", string="Refunded By", default=lambda self: self.env.user, readonly=True
    )
    method = fields.Selection(
        const.REFUND_METHODS, required=True, default="provider", tracking=True
    )
    journal_id = fields.Many2one(
        "account.journal",
        string="Operating Bank Journal",
        check_company=True,
        domain="[('type', 'in', ('bank', 'cash')), ('is_trust_account', '=', False)]",
        help="Pays back operating credits by bank transfer or cheque (default: the company's "
        "operating bank journal).",
    )
    trust_journal_id = fields.Many2one(
        "account.journal",
        string="Trust Bank Journal",
        check_company=True,
        domain="[('is_trust_account', '=', True)]",
        help="Pays back trust money by bank transfer or cheque (default: the first trust "
        "bank journal).",
    )
    cheque_number = fields.Char(tracking=True, copy=False)
    date = fields.Date(required=True, default=fields.Date.context_today, tracking=True)
    memo = fields.Char(help="Why the client is refunded: shown on the refund advice.")
    origin = fields.Selection(
        [("manual", "Refund Wizard"), ("dashboard", "Stripe Dashboard")],
        default="manual",
        required=True,
        readonly=True,
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("pending", "Pending"),
            ("done", "Refunded"),
            ("failed", "Failed"),
            ("cancel", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        tracking=True,
        copy=False,
        index=True,
    )
    idempotency_key = fields.Char(
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: uuid.uuid4().hex,
        help="Sent to the payment provider with each refund request: a retried request never "
        "refunds twice.",
    )
    line_ids = fields.One2many("legal.refund.line", "refund_id", string="Lines", copy=True)
    amount_total = fields.Monetary(compute="_compute_amount_total", store=True, string="Total")
    payment_ids = fields.Many2many("account.payment", compute="_compute_links", string="Payments")
    transaction_ids = fields.Many2many(
        "payment.transaction", compute="_compute_links", string="Provider Refunds"
    )
    move_ids = fields.Many2many("account.move", compute="_compute_links", string="Entries")
    payment_count = fields.Integer(compute="_compute_links")
    move_count = fields.Integer(compute="_compute_links")
    failure_message = fields.Text(readonly=True, copy=False)

    _sql_constraints = [
        (
            "idempotency_key_uniq",
            "unique(idempotency_key)",
            "A refund request is made only once.",
        ),
    ]

    # ------------------------------------------------------------------ compute
    @api.depends("line_ids.amount")
    def _compute_amount_total(self):
        for refund in self:
            refund.amount_total = refund.currency_id.round(sum(refund.line_ids.mapped("amount")))

    @api.depends(
        "line_ids.payment_id",
        "line_ids.transaction_id",
        "line_ids.trust_move_id",
        "line_ids.reversal_move_ids",
    )
    def _compute_links(self):
        for refund in self:
            lines = refund.line_ids.sudo()
            refund.payment_ids = lines.payment_id
            refund.transaction_ids = lines.transaction_id
            refund.move_ids = (
                lines.payment_id.move_id | lines.trust_move_id | lines.reversal_move_ids
            )
            refund.payment_count = len(refund.payment_ids)
            refund.move_count = len(refund.move_ids)

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", _("New")) == _("New"):
                company = self.env["res.company"].browse(
                    vals.get("company_id") or self.env.company.id
                )
                vals["name"] = self.env["ir.sequence"].with_company(company).next_by_code(
                    "legal.refund"
                ) or _("New")
            if vals.get("partner_id"):
                partner = self.env["res.partner"].browse(vals["partner_id"])
                vals["partner_id"] = partner.commercial_partner_id.id
        return super().create(vals_list)

    @api.ondelete(at_uninstall=False)
    def _unlink_only_draft(self):
        if any(refund.state not in ("draft", "cancel") for refund in self):
            raise UserError(_("Only draft refunds can be deleted."))

    # ------------------------------------------------------------------ what is owed
    @api.model
    def _legal_owed(self, partner, company=None, matter=None):
        """Every amount owed to the client, with what is still refundable.

        Operating credits are the client's open credit items on its receivable (posted credit
        notes with a residual, unallocated payments and overpayments), minus what pending
        refunds already took. Trust balances are the available trust funds of ``matter``, or
        of every open matter of the client when no matter is given.

        :param partner: the client (`res.partner`; its commercial entity is used)
        :param company: the `res.company` (default: the current one)
        :param matter: a `legal.matter` being closed (optional)
        :return: list of dicts with ``kind``, ``source_line_id``, ``matter_id``, ``available``,
            ``description``, ``date`` and ``source_transaction_id``
        """
        company = company or self.env.company
        client = partner.commercial_partner_id
        owed = []
        for line in self._legal_credit_lines(client, company):
            available = line._legal_refundable_amount()
            if company.currency_id.compare_amounts(available, 0) <= 0:
                continue
            move = line.move_id
            owed.append(
                {
                    "kind": "credit_note" if move.move_type == "out_refund" else "payment",
                    "source_line_id": line.id,
                    "matter_id": move.matter_id.id,
                    "available": available,
                    "description": move.name if not move.ref else f"{move.name} ({move.ref})",
                    "date": line.date,
                    "source_transaction_id": line._legal_source_transactions()[:1].id,
                }
            )
        Matter = self.env["legal.matter"]
        trust_user = self.env.su or self.env.user.has_group("legal_trust.group_trust_user")
        if not trust_user:
            matters = Matter
        elif matter:
            matters = matter
        else:
            matters = Matter.search(
                [
                    ("commercial_partner_id", "=", client.id),
                    ("company_id", "=", company.id),
                    ("state", "=", "open"),
                ]
            )
        for trust_matter in matters.sudo():
            available = trust_matter.trust_available
            if trust_matter.currency_id.compare_amounts(available, 0) <= 0:
                continue
            owed.append(
                {
                    "kind": "trust",
                    "source_line_id": False,
                    "matter_id": trust_matter.id,
                    "available": available,
                    "description": _("Trust balance of %s", trust_matter.display_name),
                    "date": fields.Date.context_today(self),
                    "source_transaction_id": trust_matter._legal_refund_deposit_transactions()[
                        :1
                    ].id,
                }
            )
        return owed

    @api.model
    def _legal_credit_lines(self, client, company):
        """The client's open credit items on its receivable, oldest first."""
        return (
            self.env["account.move.line"]
            .sudo()
            .search(
                [
                    ("company_id", "=", company.id),
                    ("partner_id.commercial_partner_id", "=", client.id),
                    ("account_type", "=", "asset_receivable"),
                    ("parent_state", "=", "posted"),
                    ("reconciled", "=", False),
                    ("amount_residual", "<", 0),
                ],
                order="date, id",
            )
        )

    # ------------------------------------------------------------------ actions
    def action_confirm(self):
        """Refund each draft refund: see :meth:`_legal_confirm`."""
        for refund in self:
            refund._legal_confirm()
        return True

    def action_send_advice(self):
        """Open the e-mail composer with the refund advice and its PDF."""
        self.ensure_one()
        template = self.env.ref("legal_refunds.mail_template_legal_refund_advice")
        return {
            "type": "ir.actions.act_window",
            "res_model": "mail.compose.message",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_model": self._name,
                "default_res_ids": self.ids,
                "default_template_id": template.id,
                "default_composition_mode": "comment",
                "default_email_layout_xmlid": "mail.mail_notification_light",
            },
        }

    def action_view_payments(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Refund Payments"),
            "res_model": "account.payment",
            "view_mode": "list,form",
            "domain": [("id", "in", self.payment_ids.ids)],
        }

    def action_view_moves(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Refund Entries"),
            "res_model": "account.move",
            "view_mode": "list,form",
            "domain": [("id", "in", self.move_ids.ids)],
        }

    def action_cancel(self):
        """Cancel a draft refund (nothing was paid yet)."""
        if any(refund.state != "draft" for refund in self):
            raise UserError(_("Only draft refunds can be cancelled."))
        self.write({"state": "cancel"})

    # ------------------------------------------------------------------ confirmation
    def _legal_confirm(self):
        """Pay the refund back to the client, once.

        Checks the lines, locks the credits they take from (a credit being refunded by
        another user at the same moment is refused at once), re-reads what is still owed
        under the lock, then pays each line: operating credits by an outbound payment
        reconciled with them (bank transfer, cheque, or the provider refund's payment),
        trust money by a legal_trust disbursement through the gate. Everything is done in
        a savepoint: a refusal leaves nothing behind.

        :return: None
        :raise UserError: bad input, more than owed, a credit locked by another refund
        :raise AccessError: trust money refunded by a user outside the Trust Manager group
        :raise ValidationError: a trust overdraft (from the gate), a provider refusal
        """
        self.ensure_one()
        if self.state != "draft":
            raise UserError(_("%s has already been processed.", self.name))
        self._legal_check_lines()
        with self.env.cr.savepoint():
            self._legal_lock_credits()
            self._legal_check_available()
            # Provider refunds last: the bookkeeping-only lines cannot fail after money left.
            lines = self.line_ids.sorted(lambda line: (self.method == "provider", line.id))
            for line in lines:
                line._legal_execute()
        self._legal_update_state()
        self._legal_post_chatter()

    def _legal_check_lines(self):
        """Refuse bad input before anything is written.

        :raise UserError: no line, non-positive amounts, another client's or company's
            credit, a cheque without number, a trust line without a matter
        :raise AccessError: trust lines for a user who is not a Trust Manager
        """
        self.ensure_one()
        if not self.line_ids:
            raise UserError(_("Select at least one amount owed to %s.", self.partner_id.name))
        currency = self.currency_id
        for line in self.line_ids:
            if currency.compare_amounts(line.amount, 0) <= 0:
                raise UserError(_("The amount to refund must be positive (%s).", line.description))
            if line.kind == "trust":
                if not line.matter_id:
                    raise UserError(_("A trust refund line needs its matter."))
                if line.matter_id.sudo().commercial_partner_id != self.partner_id:
                    raise UserError(
                        _("%s is not a matter of this client.", line.matter_id.sudo().display_name)
                    )
            else:
                source = line.source_line_id.sudo()
                if (
                    not source
                    or source.account_type != "asset_receivable"
                    or source.parent_state != "posted"
                    or source.partner_id.commercial_partner_id != self.partner_id
                    or source.company_id != self.company_id
                ):
                    raise UserError(
                        _(
                            "Only a posted credit of %s on its receivable can be refunded.",
                            self.partner_id.name,
                        )
                    )
        if self.line_ids.filtered(lambda line: line.kind == "trust") and not (
            self.env.su or self.env.user.has_group("legal_trust.group_trust_manager")
        ):
            raise AccessError(
                _(
                    "Only members of %s may refund trust money.",
                    self.env.ref("legal_trust.group_trust_manager").sudo().full_name,
                )
            )
        if self.method == "cheque" and not (self.cheque_number or "").strip():
            raise UserError(_("Enter the number of the cheque sent to the client."))
        if self.method == "provider":
            for line in self.line_ids:
                line._legal_find_source_transaction()

    def _legal_lock_credits(self):
        """Lock the credit items refunded, in id order, and write to them.

        ``NOWAIT``: a credit being refunded by another user right now is refused with a
        clear message rather than waited for. Writing to the rows makes a transaction that
        read them before our commit fail with a serialization error (REPEATABLE READ), which
        the web layer retries: it then sees what is left.

        :raise UserError: a credit is locked by another refund
        """
        sources = self.line_ids.source_line_id
        if not sources:
            return
        self.env["account.move.line"].flush_model()
        self.env["account.partial.reconcile"].flush_model()
        self.env["legal.refund.line"].flush_model()
        try:
            with self.env.cr.savepoint(flush=False):
                self.env.cr.execute(
                    SQL(
                        "SELECT id FROM account_move_line WHERE id = ANY(%s) "
                        "ORDER BY id FOR NO KEY UPDATE NOWAIT",
                        sorted(sources.ids),
                    ),
                    log_exceptions=False,
                )
        except pg_errors.LockNotAvailable as exc:
            raise UserError(
                _(
                    "A credit of %s is being refunded by someone else right now: try again "
                    "in a moment.",
                    self.partner_id.name,
                )
            ) from exc
        self.env.cr.execute(
            SQL(
                "UPDATE account_move_line SET write_date = write_date WHERE id = ANY(%s)",
                sources.ids,
            )
        )
        sources.invalidate_recordset()

    def _legal_check_available(self):
        """Refuse a refund of more than is still owed, line by line (under the locks).

        :raise UserError: with the amount still refundable
        """
        self.ensure_one()
        currency = self.currency_id
        taken = {}
        for line in self.line_ids:
            key = (line.kind == "trust", line.source_line_id.id or line.matter_id.id)
            taken[key] = taken.get(key, 0.0) + line.amount
        for line in self.line_ids:
            key = (line.kind == "trust", line.source_line_id.id or line.matter_id.id)
            available = line._legal_available()
            if currency.compare_amounts(taken[key], available) > 0:
                raise UserError(
                    _(
                        "%(what)s: %(available)s can still be refunded, not %(amount)s.",
                        what=line.description or line._legal_source_name(),
                        available=format_amount(self.env, available, currency),
                        amount=format_amount(self.env, taken[key], currency),
                    )
                )

    # ------------------------------------------------------------------ state changes
    def _legal_update_state(self):
        """Set the refund's state from its lines: failed if any failed, pending while any is
        pending at the provider, done when all are done. Starts from draft or pending."""
        for refund in self:
            if refund.state not in ("draft", "pending", "done"):
                continue
            states = set(refund.line_ids.mapped("state"))
            if "failed" in states:
                state = "failed"
            elif "pending" in states or "draft" in states:
                state = "pending"
            else:
                state = "done"
            if state != refund.state:
                refund.state = state
                if state == "done":
                    refund._legal_send_advice_auto()

    def _legal_send_advice_auto(self):
        """Send the refund advice (PDF and e-mail) to the client, once the refund is done."""
        for refund in self:
            if refund.env.context.get("legal_refund_no_advice") or not refund.partner_id.email:
                continue
            refund._legal_send_advice()

    def _legal_send_advice(self):
        """Post the refund advice in the chatter and e-mail it to the client with its PDF."""
        self.ensure_one()
        template = self.env.ref("legal_refunds.mail_template_legal_refund_advice")
        composer = (
            self.env["mail.compose.message"]
            .sudo()
            .with_context(
                default_model=self._name,
                default_res_ids=self.ids,
                default_template_id=template.id,
                default_composition_mode="comment",
                default_email_layout_xmlid="mail.mail_notification_light",
            )
            .create({})
        )
        composer._action_send_mail()

    # ------------------------------------------------------------------ chatter
    def _legal_post_chatter(self):
        """A trail on the refund, the client and each matter concerned."""
        for refund in self:
            body = Markup("<p>%s</p>") % _(
                "Refund %(ref)s of %(amount)s to %(client)s by %(method)s: %(state)s.",
                ref=refund.name,
                amount=format_amount(self.env, refund.amount_total, refund.currency_id),
                client=refund.partner_id.name,
                method=dict(const.REFUND_METHODS)[refund.method],
                state=dict(refund._fields["state"]._description_selection(self.env))[refund.state],
            )
            items = Markup("").join(
                Markup("<li>%s: %s</li>")
                % (
                    line.description or line._legal_source_name(),
                    format_amount(self.env, line.amount, refund.currency_id),
                )
                for line in refund.line_ids
            )
            body += Markup("<ul>%s</ul>") % items
            link = Markup("<p>%s</p>") % refund._get_html_link()
            refund.message_post(body=body, subtype_xmlid="mail.mt_note")
            refund.partner_id.sudo().message_post(body=body + link, subtype_xmlid="mail.mt_note")
            matters = refund.matter_id | refund.line_ids.matter_id
            for matter in matters.sudo():
                matter.message_post(body=body + link, subtype_xmlid="mail.mt_note")

    def _legal_notify_failure(self, message):
        """Tell the firm a provider refund failed: chatter and an activity for the user."""
        for refund in self:
            body = Markup("<p>%s</p><p>%s</p>") % (
                _(
                    "The refund %s failed at the payment provider: its entries were reversed "
                    "and the client is owed the money again.",
                    refund.name,
                ),
                message or "",
            )
            refund.message_post(body=body, subtype_xmlid="mail.mt_note")
            refund.partner_id.sudo().message_post(body=body, subtype_xmlid="mail.mt_note")
            for matter in (refund.matter_id | refund.line_ids.matter_id).sudo():
                matter.message_post(body=body, subtype_xmlid="mail.mt_note")
            user = refund.user_id or self.env.ref("base.user_admin", raise_if_not_found=False)
            if user:
                refund.sudo().activity_schedule(
                    "mail.mail_activity_data_warning",
                    summary=_("Refund failed: %s", refund.name),
                    note=message or "",
                    user_id=user.id,
                )

    # ------------------------------------------------------------------ dashboard refunds
    @api.model
    def _legal_record_provider_refund(self, refund_tx):
        """Record a refund made outside Odoo (Stripe dashboard) of a payment made in Odoo.

        A done refund record is created for the client, its lines taking, in order, the
        credit left by the refunded payment itself, the credit notes of its invoices, then
        the client's other credits, oldest first; for a trust deposit, the matter's trust
        balance. The refund transaction then books and reconciles them like a refund made
        from the wizard.

        :param refund_tx: the refund `payment.transaction` (operation ``refund``)
        :return: the `legal.refund.line` records created (possibly empty for nothing owed)
        """
        source_tx = refund_tx.source_transaction_id
        client = refund_tx.partner_id.commercial_partner_id
        company = refund_tx.company_id
        currency = company.currency_id
        amount = currency.round(-refund_tx.amount)
        refund = self.sudo().create(
            {
                "partner_id": client.id,
                "company_id": company.id,
                "method": "provider",
                "origin": "dashboard",
                "state": "pending",
                "matter_id": source_tx.legal_matter_id.id,
                "memo": _("Refunded in the Stripe dashboard (%s)", refund_tx.provider_reference),
                "idempotency_key": f"dashboard-{refund_tx.provider_reference or refund_tx.id}",
            }
        )
        lines_vals = []
        if source_tx.legal_matter_id:
            lines_vals.append(
                {
                    "kind": "trust",
                    "matter_id": source_tx.legal_matter_id.id,
                    "amount": amount,
                    "description": _("Trust balance of %s", source_tx.legal_matter_id.display_name),
                }
            )
        else:
            credit_lines = source_tx.payment_id.move_id.line_ids.filtered(
                lambda line: line.account_type == "asset_receivable"
                and not line.reconciled
                and line.amount_residual < 0
            )
            invoices = source_tx.invoice_ids
            credit_lines |= invoices.reversal_move_ids.filtered(
                lambda move: move.state == "posted"
            ).line_ids.filtered(
                lambda line: line.account_type == "asset_receivable" and not line.reconciled
            )
            credit_lines |= self._legal_credit_lines(client, company)
            left = amount
            for credit in credit_lines:
                if currency.compare_amounts(left, 0) <= 0:
                    break
                take = min(left, credit._legal_refundable_amount())
                if currency.compare_amounts(take, 0) <= 0:
                    continue
                kind = "credit_note" if credit.move_id.move_type == "out_refund" else "payment"
                lines_vals.append(
                    {
                        "kind": kind,
                        "source_line_id": credit.id,
                        "amount": take,
                        "description": credit.move_id.name,
                    }
                )
                left = currency.round(left - take)
            if currency.compare_amounts(left, 0) > 0:
                refund.message_post(
                    body=_(
                        "%(amount)s refunded in the Stripe dashboard matched no credit of the "
                        "client: it stays as an amount owed by the client on its receivable.",
                        amount=format_amount(self.env, left, currency),
                    )
                )
        lines = (
            self.env["legal.refund.line"]
            .sudo()
            .create(
                [
                    {
                        **vals,
                        "refund_id": refund.id,
                        "state": "pending",
                        "source_transaction_id": source_tx.id,
                        "transaction_id": refund_tx.id,
                    }
                    for vals in lines_vals
                ]
            )
        )
        refund_tx.legal_refund_line_id = lines[:1]
        return lines

    # ------------------------------------------------------------------ demo
    @api.model
    def _demo_create_refunds(self):
        """Demo: for Ellis, a posted credit note of 300, 120 of it refunded by bank transfer
        (the rest stays owed and is listed by the wizard); for Harper, a credit note of 150
        refunded in full by bank transfer."""
        demo = [
            (
                "legal_trust.partner_client_ellis",
                "Fee adjustment: estate valuation",
                "Fee adjustment",
                300.0,
                120.0,
                "Partial refund of the fee adjustment",
            ),
            (
                "legal_trust.partner_client_harper",
                "Billing correction: courier charged twice",
                "Courier charge billed twice",
                150.0,
                150.0,
                "Refund of the duplicate courier charge",
            ),
        ]
        income = self.env["account.account"].search(
            [("company_ids", "in", self.env.company.id), ("account_type", "=", "income")],
            limit=1,
        )
        for xmlid, ref, label, credited, refunded, memo in demo:
            client = self.env.ref(xmlid, raise_if_not_found=False)
            if not client:
                continue
            credit_note = self.env["account.move"].create(
                {
                    "move_type": "out_refund",
                    "partner_id": client.id,
                    "ref": ref,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "name": label,
                                "quantity": 1,
                                "price_unit": credited,
                                "account_id": income.id,
                                "tax_ids": [Command.clear()],
                            }
                        )
                    ],
                }
            )
            credit_note.action_post()
            line = credit_note.line_ids.filtered(lambda rec: rec.account_type == "asset_receivable")
            refund = self.with_context(legal_refund_no_advice=True).create(
                {
                    "partner_id": client.id,
                    "method": "bank",
                    "memo": memo,
                    "line_ids": [
                        Command.create(
                            {
                                "kind": "credit_note",
                                "source_line_id": line.id,
                                "amount": refunded,
                                "description": credit_note.name,
                            }
                        )
                    ],
                }
            )
            refund.action_confirm()
