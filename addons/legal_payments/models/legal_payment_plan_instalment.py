# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import logging
from datetime import timedelta

from markupsafe import Markup
from werkzeug.urls import url_join

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL, format_amount, format_date

from odoo.addons.legal_trust.utils import lock_rows
from odoo.addons.payment import utils as payment_utils

from .. import const
from .legal_payment_plan import as_plan_owner, is_plan_owner

#: Fields of an instalment of a sent plan that only the plan's own code paths change: what is
#: charged, when, and whether it is still to charge.
INSTALMENT_OWNED_FIELDS = {
    "plan_id",
    "sequence",
    "amount_outside",
    "state",
    "next_attempt_date",
}

_logger = logging.getLogger(__name__)


class LegalPaymentPlanInstalment(models.Model):
    """One instalment of a payment plan: an amount due on a date, charged by the cron or paid
    by the client from the portal."""

    _name = "legal.payment.plan.instalment"
    _description = "Payment Plan Instalment"
    _order = "plan_id, sequence, id"
    _check_company_auto = True

    plan_id = fields.Many2one(
        string="Payment Plan",
        comodel_name="legal.payment.plan",
        required=True,
        index=True,
        ondelete="cascade",
    )
    sequence = fields.Integer(
        string="No.", help="Numbered in the order of the due dates when sent to the client."
    )
    company_id = fields.Many2one(related="plan_id.company_id", store=True, index=True)
    partner_id = fields.Many2one(related="plan_id.partner_id", store=True, string="Client")
    currency_id = fields.Many2one(related="plan_id.currency_id")
    due_date = fields.Date(required=True)
    amount = fields.Monetary(required=True, help="The amount scheduled, as the client accepted.")
    amount_paid = fields.Monetary(
        string="Paid",
        compute="_compute_amounts",
        store=True,
        help="Paid through the plan: the charges and the client's portal payments of this "
        "instalment.",
    )
    amount_in_progress = fields.Monetary(
        string="Processing", compute="_compute_amounts", store=True
    )
    amount_outside = fields.Monetary(
        string="Covered by Other Payments",
        readonly=True,
        help="Payments of the invoices made outside the plan (bank transfer, invoice paid in "
        "the portal, from trust) reduce the remaining instalments from the last one backwards.",
    )
    amount_due = fields.Monetary(
        string="Still to Pay",
        compute="_compute_amounts",
        store=True,
    )
    state = fields.Selection(
        selection=[
            ("planned", "Planned"),
            ("due", "Due"),
            ("paid", "Paid"),
            ("failed", "Failed"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        default="planned",
        readonly=True,
        copy=False,
    )
    next_attempt_date = fields.Date(
        string="Next Charge On", readonly=True, copy=False, help="When a failed charge is retried."
    )
    last_error = fields.Text(
        string="Last Failure Reason",
        readonly=True,
        copy=False,
        help="Why the last charge failed: declined by the bank, or refused because the "
        "client's authorization is revoked or expired.",
    )
    pay_link_sent_date = fields.Datetime(string="Pay Link Sent On", readonly=True, copy=False)
    transaction_ids = fields.One2many(
        string="Payments",
        comodel_name="payment.transaction",
        inverse_name="legal_plan_instalment_id",
        readonly=True,
    )
    attempt_ids = fields.One2many(
        string="Charge Attempts",
        comodel_name="legal.payment.plan.attempt",
        inverse_name="instalment_id",
        readonly=True,
    )
    attempt_count = fields.Integer(string="Attempts", compute="_compute_attempt_count")

    _sql_constraints = [
        (
            "amount_positive",
            "CHECK(amount > 0)",
            "Every instalment asks for a positive amount.",
        ),
    ]

    @api.model
    def _legal_next_for_client(self, client, company):
        """Return the client's next instalment still to pay in a running plan, or nothing.

        :param client: the commercial `res.partner`
        :param company: the `res.company` whose plans are read
        """
        return self.search(
            [
                ("plan_id.partner_id", "=", client.id),
                ("plan_id.state", "=", "running"),
                ("company_id", "=", company.id),
                ("state", "in", ("planned", "due", "failed")),
                ("amount_due", ">", 0),
            ],
            order="due_date, sequence, id",
            limit=1,
        )

    # === COMPUTE METHODS === #

    @api.depends(
        "amount",
        "amount_outside",
        "transaction_ids.state",
        "transaction_ids.amount",
        "transaction_ids.legal_surcharge_amount",
    )
    def _compute_amounts(self):
        for inst in self:
            currency = inst.currency_id
            txs = inst.transaction_ids.filtered(lambda tx: tx.operation != "refund")
            paid = sum(txs.filtered(lambda tx: tx.state == "done")._legal_plan_amounts())
            in_progress = sum(
                txs.filtered(lambda tx: tx.state in ("pending", "authorized"))._legal_plan_amounts()
            )
            inst.amount_paid = currency.round(paid)
            inst.amount_in_progress = currency.round(in_progress)
            inst.amount_due = currency.round(
                max(0.0, inst.amount - inst.amount_outside - paid - in_progress)
            )

    @api.depends("attempt_ids")
    def _compute_attempt_count(self):
        for inst in self:
            inst.attempt_count = len(inst.attempt_ids)

    @api.depends("plan_id.name", "sequence")
    def _compute_display_name(self):
        for inst in self:
            inst.display_name = _(
                "%(plan)s: instalment %(number)s",
                plan=inst.plan_id.name or "",
                number=inst.sequence,
            )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        last = {}
        if not is_plan_owner(self):
            plan_ids = {vals.get("plan_id") for vals in vals_list if vals.get("plan_id")}
            plans = self.env["legal.payment.plan"].sudo().browse(plan_ids)
            if any(plan.state != "draft" for plan in plans):
                raise AccessError(
                    _(
                        "The client accepted this schedule: no instalment can be added. Cancel "
                        "the plan and make a new one."
                    )
                )
            if any(vals.get("state", "planned") != "planned" for vals in vals_list):
                raise AccessError(_("An instalment starts as planned."))
        for vals in vals_list:
            if not vals.get("sequence") and vals.get("plan_id"):
                plan_id = vals["plan_id"]
                if plan_id not in last:
                    plan = self.env["legal.payment.plan"].browse(plan_id)
                    last[plan_id] = max(plan.instalment_ids.mapped("sequence"), default=0)
                last[plan_id] += 1
                vals["sequence"] = last[plan_id]
        return super().create(vals_list)

    def write(self, vals):
        if {"amount", "due_date"} & set(vals) and any(
            inst.plan_id.state != "draft" for inst in self
        ):
            raise UserError(
                _("The client accepted this schedule: cancel the plan and make a new one.")
            )
        if not is_plan_owner(self) and INSTALMENT_OWNED_FIELDS & set(vals):
            plans = self.sudo().plan_id
            if vals.get("plan_id"):
                plans |= self.env["legal.payment.plan"].sudo().browse(vals["plan_id"])
            if "state" in vals or any(plan.state != "draft" for plan in plans):
                raise AccessError(
                    _(
                        "What an instalment charges and when follows the plan the client "
                        "accepted, its payments and its cancellation: it cannot be set by "
                        "hand."
                    )
                )
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_draft_plan(self):
        if any(inst.plan_id.state != "draft" for inst in self):
            raise UserError(_("Only the instalments of a draft plan can be removed."))

    # === BUSINESS METHODS - STATE === #

    def _legal_update_state(self):
        """Follow what is paid: paid when nothing is left to pay, due once the due date is
        reached, planned before; failed and cancelled instalments stay so until paid."""
        today = fields.Date.context_today(self)
        for inst in as_plan_owner(self):
            if inst.state == "cancelled":
                continue
            if inst.currency_id.is_zero(inst.amount_due) and not inst.amount_in_progress:
                if inst.state != "paid":
                    inst.write({"state": "paid", "next_attempt_date": False})
            elif inst.state in ("planned", "due", "paid"):
                state = "due" if inst.due_date <= today else "planned"
                if inst.state != state:
                    inst.state = state

    # === BUSINESS METHODS - PORTAL PAYMENT === #

    def _legal_pay_url(self):
        """The absolute link to pay this instalment from the portal (with the plan's access
        token)."""
        self.ensure_one()
        plan = self.plan_id
        return url_join(
            plan.get_base_url(),
            f"/my/payment_plans/{plan.id}/instalments/{self.id}/pay"
            f"?access_token={plan._portal_ensure_token()}",
        )

    def _legal_check_payable(self, amount, currency):
        """Refuse a portal payment of this instalment that is not allowed.

        The instalment's row is locked, so that two payments of it at once are checked one
        after the other.

        :param float amount: the amount the client pays
        :param currency: the `res.currency` of the payment
        :raise UserError: plan not running, instalment paid or cancelled, another currency,
            more than still due on the instalment
        """
        self.ensure_one()
        lock_rows(self)
        if self.plan_id.state != "running" or self.state in ("paid", "cancelled"):
            raise UserError(_("%s cannot be paid.", self.display_name))
        if currency != self.currency_id:
            raise UserError(_("%s is payable in its plan's currency only.", self.display_name))
        if (
            self.currency_id.compare_amounts(amount or 0.0, 0) <= 0
            or self.currency_id.compare_amounts(amount, self.amount_due) > 0
        ):
            raise UserError(
                _(
                    "%(instalment)s: %(amount)s is not payable (%(due)s due).",
                    instalment=self.display_name,
                    amount=format_amount(self.env, amount or 0.0, self.currency_id),
                    due=format_amount(self.env, self.amount_due, self.currency_id),
                )
            )

    # === BUSINESS METHODS - CHARGING === #

    @api.model
    def _legal_chargeable_domain(self):
        today = fields.Date.context_today(self)
        return [
            ("plan_id.state", "=", "running"),
            ("state", "in", ("planned", "due")),
            ("due_date", "<=", today),
            "|",
            ("next_attempt_date", "=", False),
            ("next_attempt_date", "<=", today),
        ]

    def _legal_lock_skip_locked(self):
        """Lock this instalment's row, or return False when another run holds it."""
        self.ensure_one()
        self.flush_recordset()
        self.env.cr.execute(
            SQL(
                "SELECT id FROM legal_payment_plan_instalment WHERE id = %s "
                "FOR NO KEY UPDATE SKIP LOCKED",
                self.id,
            ),
            log_exceptions=False,
        )  # A row changed by a run committed meanwhile raises SerializationFailure.
        locked = bool(self.env.cr.fetchone())
        self.invalidate_recordset()
        return locked

    def _legal_charge(self):
        """Charge this due instalment with the plan's authorized payment method, once.

        Under the instalment's row lock (skipped when another run holds it), the plan is
        rebalanced first, so that a payment made outside the plan is never charged again; then
        an attempt row (unique per instalment and attempt number) names the transaction, whose
        reference makes Stripe's idempotency key, and the charge goes through the
        authorization gate.

        :return: the `payment.transaction` sent, or None when nothing was charged
        """
        self.ensure_one()
        if not self._legal_lock_skip_locked():
            return None
        if not self.filtered_domain(self._legal_chargeable_domain()):
            return None  # Charged, paid or cancelled meanwhile.
        plan = self.plan_id
        plan._legal_rebalance()
        if not self.filtered_domain(self._legal_chargeable_domain()):
            return None
        currency = self.currency_id
        if self.amount_in_progress or currency.is_zero(self.amount_due):
            return None
        amount = currency.round(
            min(self.amount_due, plan.amount_residual - plan._legal_in_flight_amount())
        )
        if currency.compare_amounts(amount, 0) <= 0:
            return None
        attempt = self.env["legal.payment.plan.attempt"].create(
            {
                "instalment_id": self.id,
                "attempt_number": max(self.attempt_ids.mapped("attempt_number"), default=0) + 1,
                "amount": amount,
            }
        )
        Transaction = self.env["payment.transaction"].sudo()
        token = plan.authorization_id.token_id
        tx = None
        try:
            if not token:
                raise UserError(_("The client has not authorized any payment method."))
            Transaction._legal_check_payment_request(
                token.provider_id, amount, currency, plan.partner_id, plan.invoice_ids
            )
            tx = Transaction.create(
                {
                    "provider_id": token.provider_id.id,
                    "payment_method_id": token.payment_method_id.id,
                    "token_id": token.id,
                    "reference": attempt.name,
                    "amount": amount,
                    "currency_id": currency.id,
                    "partner_id": plan.partner_id.id,
                    "operation": "offline",
                    "invoice_ids": [fields.Command.set(plan.invoice_ids.ids)],
                    "legal_plan_instalment_id": self.id,
                }
            )
            attempt.write(
                {
                    "transaction_id": tx.id,
                    "idempotency_key": payment_utils.generate_idempotency_key(
                        tx, scope="payment_intents_token"
                    ),
                }
            )
            with self.env.cr.savepoint():
                tx._legal_check_authorization()
        except UserError as exc:
            if tx:
                tx._set_error(exc.args[0])
            self._legal_register_failure(attempt, "refused", exc.args[0])
            return tx
        try:
            with self.env.cr.savepoint():
                tx._send_payment_request()
        except UserError as exc:
            tx._set_error(exc.args[0])
            self._legal_register_failure(attempt, "failed", exc.args[0])
            return tx
        if tx.state == "done":
            attempt.state = "done"
        elif tx.state in ("pending", "authorized"):
            attempt.state = "pending"
        else:
            reason = tx.state_message or _("The payment was declined.")
            self._legal_register_failure(attempt, "declined", reason)
            return tx
        as_plan_owner(self).write({"last_error": False, "next_attempt_date": False})
        self._legal_update_state()
        return tx

    def _legal_register_failure(self, attempt, kind, reason):
        """Record a failed charge: retry after 1, 3 and 7 days, then e-mail the client a pay
        link and tell the firm.

        :param attempt: the failed `legal.payment.plan.attempt`
        :param str kind: ``declined`` (by the bank), ``refused`` (by the authorization gate)
            or ``failed`` (not sent)
        :param str reason: why, as the firm reads it
        """
        self.ensure_one()
        attempt.write({"state": kind, "reason": reason})
        failures = self.attempt_ids.filtered(lambda a: a.state in ("declined", "refused", "failed"))
        plan = self.plan_id
        today = fields.Date.context_today(self)
        what = _(
            "The charge of %(amount)s for instalment %(number)s (due %(due)s) failed: "
            "%(reason)s",
            amount=format_amount(self.env, attempt.amount, self.currency_id),
            number=self.sequence,
            due=format_date(self.env, self.due_date),
            reason=reason,
        )
        retries = const.PLAN_RETRY_DAYS
        if len(failures) <= len(retries):
            first = min(failures.mapped("date"))
            retry = max(first + timedelta(days=retries[len(failures) - 1]), today)
            if retry == today:
                retry += timedelta(days=1)
            as_plan_owner(self).write(
                {"state": "due", "last_error": reason, "next_attempt_date": retry}
            )
            plan.message_post(
                body=Markup("<p>%s</p><p>%s</p>")
                % (what, _("Next attempt on %s.", format_date(self.env, retry))),
                subtype_xmlid="mail.mt_note",
            )
            return
        as_plan_owner(self).write(
            {"state": "failed", "last_error": reason, "next_attempt_date": False}
        )
        self._legal_send_pay_link()
        plan._legal_tell_firm(
            _("Instalment %s could not be charged", self.sequence),
            _(
                "%(what)s After %(count)s attempts, the client was e-mailed a link to pay it.",
                what=what,
                count=len(failures),
            ),
        )

    def _legal_send_pay_link(self):
        """E-mail the client a link to pay this instalment in the portal (in the plan's
        chatter)."""
        self.ensure_one()
        template = self.env.ref("legal_payments.mail_template_payment_plan_instalment_failed")
        plan = self.plan_id
        body = template._render_field("body_html", self.ids, compute_lang=True)[self.id]
        subject = template._render_field("subject", self.ids, compute_lang=True)[self.id]
        plan.message_post(
            body=body,
            subject=subject,
            partner_ids=plan.partner_id.ids,
            subtype_xmlid="mail.mt_comment",
            email_layout_xmlid="mail.mail_notification_light",
        )
        self.pay_link_sent_date = fields.Datetime.now()
