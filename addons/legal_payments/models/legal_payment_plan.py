# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import logging
from datetime import timedelta

from dateutil.relativedelta import relativedelta
from markupsafe import Markup
from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import format_amount, format_date

from odoo.addons.legal_trust.utils import lock_rows

from .. import const

_logger = logging.getLogger(__name__)

#: Context marker of the code paths that own a plan's status, its authorization and, once the
#: plan is sent, its schedule: a module-level object, which no RPC caller can send (a context
#: key alone never switches a check off).
_PLAN_OWNER = object()
_PLAN_OWNER_KEY = "legal_payment_plan_owner"

#: Set only by the plan's own actions and business methods, whatever the plan's state.
PLAN_OWNED_FIELDS = {"state", "authorization_id"}
#: Frozen once the plan is sent to the client, but for the plan's own business methods.
PLAN_SCHEDULE_FIELDS = {
    "amount_total",
    "schedule_mode",
    "instalment_number",
    "frequency",
    "date_start",
    "instalment_ids",
}


def as_plan_owner(records):
    """Return ``records`` in the context of the code paths that own payment plans."""
    return records.with_context(**{_PLAN_OWNER_KEY: _PLAN_OWNER})


def is_plan_owner(records):
    """Whether ``records`` are changed by a code path that owns payment plans."""
    return records.env.context.get(_PLAN_OWNER_KEY) is _PLAN_OWNER


FREQUENCY_STEPS = {
    "weekly": relativedelta(weeks=1),
    "biweekly": relativedelta(weeks=2),
    "monthly": relativedelta(months=1),
}


class LegalPaymentPlan(models.Model):
    """A client pays one or more invoices in instalments, charged on their due dates.

    The client accepts the schedule in the portal with one of their stored payment methods,
    which records an authorization to charge (scope "One Payment Plan"); a daily cron charges
    each due instalment through the authorization gate. A payment made outside the plan reduces
    the remaining instalments: what the plan charges never exceeds what is still due on its
    invoices.
    """

    _name = "legal.payment.plan"
    _description = "Payment Plan"
    _inherit = ["portal.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(string="Reference", required=True, readonly=True, copy=False, default="/")
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, default=lambda self: self.env.company
    )
    partner_id = fields.Many2one(
        string="Client",
        comodel_name="res.partner",
        required=True,
        index=True,
        tracking=True,
        help="The client who pays (their commercial entity).",
    )
    user_id = fields.Many2one(
        string="Responsible",
        comodel_name="res.users",
        default=lambda self: self.env.user,
        tracking=True,
        help="Told when an instalment cannot be charged.",
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        required=True,
        default=lambda self: self.env.company.currency_id,
    )
    invoice_ids = fields.Many2many(
        string="Invoices",
        comodel_name="account.move",
        relation="legal_payment_plan_invoice_rel",
        column1="plan_id",
        column2="move_id",
        check_company=True,
        domain="[('move_type', '=', 'out_invoice'), ('state', '=', 'posted'), "
        "('payment_state', 'in', ('not_paid', 'partial')), "
        "('commercial_partner_id', '=', partner_id), ('currency_id', '=', currency_id)]",
    )
    amount_total = fields.Monetary(
        string="Total",
        readonly=True,
        tracking=True,
        help="What was due on the invoices when the plan was made: the instalments add up to it.",
    )
    amount_residual = fields.Monetary(
        string="Still Due on Invoices", compute="_compute_amount_residual"
    )
    schedule_mode = fields.Selection(
        string="Schedule",
        selection=[
            ("regular", "Regular Instalments"),
            ("custom", "Explicit Schedule"),
        ],
        required=True,
        default="regular",
    )
    instalment_number = fields.Integer(string="Number of Instalments", default=3)
    frequency = fields.Selection(
        selection=[
            ("weekly", "Weekly"),
            ("biweekly", "Every 2 Weeks"),
            ("monthly", "Monthly"),
        ],
        default="monthly",
    )
    date_start = fields.Date(string="First Due Date", default=fields.Date.context_today)
    instalment_ids = fields.One2many(
        string="Instalments",
        comodel_name="legal.payment.plan.instalment",
        inverse_name="plan_id",
        copy=False,
    )
    amount_paid = fields.Monetary(string="Paid through the Plan", compute="_compute_amount_paid")
    state = fields.Selection(
        selection=[
            ("draft", "Draft"),
            ("awaiting", "Awaiting Client Acceptance"),
            ("running", "Running"),
            ("done", "Done"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        default="draft",
        readonly=True,
        tracking=True,
        copy=False,
    )
    authorization_ids = fields.One2many(
        string="Authorizations to Charge",
        comodel_name="legal.payment.authorization",
        inverse_name="plan_id",
        readonly=True,
    )
    authorization_id = fields.Many2one(
        string="Authorization to Charge",
        comodel_name="legal.payment.authorization",
        readonly=True,
        copy=False,
        tracking=True,
        help="The authorization the client gave when accepting the plan.",
    )
    token_id = fields.Many2one(
        string="Payment Method", related="authorization_id.token_id", readonly=True
    )
    authorization_state = fields.Selection(related="authorization_id.state")

    _sql_constraints = [
        (
            "instalment_number_positive",
            "CHECK(schedule_mode != 'regular' OR instalment_number > 0)",
            "A plan has at least one instalment.",
        ),
    ]

    # === COMPUTE METHODS === #

    @api.depends("invoice_ids.amount_residual")
    def _compute_amount_residual(self):
        for plan in self:
            plan.amount_residual = plan.currency_id.round(
                sum(plan.invoice_ids.mapped("amount_residual"))
            )

    @api.depends("instalment_ids.amount_paid")
    def _compute_amount_paid(self):
        for plan in self:
            plan.amount_paid = sum(plan.instalment_ids.mapped("amount_paid"))

    def _compute_access_url(self):
        res = super()._compute_access_url()
        for plan in self:
            plan.access_url = f"/my/payment_plans/{plan.id}"
        return res

    # === CONSTRAINTS === #

    @api.constrains("partner_id", "invoice_ids", "currency_id")
    def _check_invoices(self):
        for plan in self:
            client = plan.partner_id.commercial_partner_id
            for invoice in plan.invoice_ids:
                if invoice.move_type != "out_invoice" or invoice.state != "posted":
                    raise ValidationError(
                        _("%s is not a posted customer invoice.", invoice.display_name)
                    )
                if invoice.commercial_partner_id != client:
                    raise ValidationError(
                        _("%s is the invoice of another client.", invoice.display_name)
                    )
                if invoice.currency_id != plan.currency_id:
                    raise ValidationError(
                        _(
                            "%(invoice)s is in %(currency)s: a plan pays invoices of its own "
                            "currency only.",
                            invoice=invoice.display_name,
                            currency=invoice.currency_id.name,
                        )
                    )

    # === CRUD METHODS === #

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not is_plan_owner(self) and (
                vals.get("state", "draft") != "draft" or vals.get("authorization_id")
            ):
                raise AccessError(
                    _(
                        "A payment plan starts as a draft: it is sent to the client, who "
                        "accepts it with an authorization to charge."
                    )
                )
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code("legal.payment.plan") or _(
                    "New"
                )
            if vals.get("partner_id"):
                partner = self.env["res.partner"].browse(vals["partner_id"])
                vals["partner_id"] = partner.commercial_partner_id.id
        plans = super().create(vals_list)
        for plan in plans.filtered(lambda p: not p.amount_total):
            plan.amount_total = plan.amount_residual
        return plans

    def write(self, vals):
        frozen = {"partner_id", "invoice_ids", "currency_id", "company_id"}
        if frozen & set(vals) and any(plan.state != "draft" for plan in self):
            raise UserError(_("Only a draft payment plan can change its client or invoices."))
        if not is_plan_owner(self):
            if PLAN_OWNED_FIELDS & set(vals):
                raise AccessError(
                    _(
                        "The status and the authorization of a payment plan follow its "
                        "sending, the client's acceptance, its payments and its cancellation: "
                        "they cannot be set by hand."
                    )
                )
            if PLAN_SCHEDULE_FIELDS & set(vals) and any(plan.state != "draft" for plan in self):
                raise AccessError(
                    _(
                        "The schedule of a payment plan sent to the client cannot change: "
                        "cancel the plan and make a new one."
                    )
                )
        res = super().write(vals)
        if "invoice_ids" in vals:
            for plan in self:
                plan.amount_total = plan.amount_residual
        return res

    @api.ondelete(at_uninstall=False)
    def _unlink_except_draft(self):
        if any(plan.state not in ("draft", "cancelled") for plan in self):
            raise UserError(_("Cancel a payment plan before deleting it."))
        if self.instalment_ids.transaction_ids:
            raise UserError(_("A payment plan with payments is kept."))

    # === ACTIONS === #

    def action_generate_schedule(self):
        """(Re)build the instalments from the number, frequency and first due date.

        Every instalment is the total divided by their number, rounded by the currency; the last
        one absorbs the rounding, so that the instalments add up to the total to the cent.
        """
        for plan in self:
            plan._check_state(("draft",))
            if plan.instalment_number < 1:
                raise UserError(_("A plan has at least one instalment."))
            if not plan.frequency or not plan.date_start:
                raise UserError(_("Set the frequency and the first due date."))
            currency = plan.currency_id
            total = plan.amount_total
            number = plan.instalment_number
            share = currency.round(total / number)
            amounts = [share] * (number - 1) + [currency.round(total - share * (number - 1))]
            if currency.compare_amounts(min(amounts), 0) <= 0:
                raise UserError(
                    _(
                        "%(total)s cannot be split into %(number)s instalments.",
                        total=format_amount(self.env, total, currency),
                        number=number,
                    )
                )
            step = FREQUENCY_STEPS[plan.frequency]
            plan.instalment_ids.unlink()
            plan.instalment_ids = [
                fields.Command.create(
                    {
                        "sequence": index + 1,
                        "due_date": plan.date_start + step * index,
                        "amount": amount,
                    }
                )
                for index, amount in enumerate(amounts)
            ]
        return True

    def action_send(self):
        """Send the plan to the client for acceptance in the portal (from draft)."""
        template = self.env.ref("legal_payments.mail_template_payment_plan_acceptance")
        for plan in self:
            plan._check_state(("draft",))
            plan._legal_lock_invoices()
            plan._check_sendable()
            plan._legal_renumber()
            as_plan_owner(plan).state = "awaiting"
            plan._portal_ensure_token()
            plan.message_post_with_source(
                template,
                subtype_xmlid="mail.mt_comment",
                partner_ids=plan.partner_id.ids,
            )
        return True

    def action_draft(self):
        """Back to draft, to change the schedule before the client accepts it."""
        for plan in self:
            plan._check_state(("awaiting",))
        as_plan_owner(self).write({"state": "draft"})
        return True

    def action_cancel(self):
        """Cancel the plan: no further instalment is charged, the authorization is revoked."""
        for plan in self:
            plan._check_state(("draft", "awaiting", "running"))
            plan._legal_lock()
            if plan.instalment_ids.transaction_ids.filtered(
                lambda tx: tx.state in ("pending", "authorized")
            ):
                raise UserError(_("%s has a payment in progress.", plan.name))
            as_plan_owner(plan.instalment_ids).filtered(
                lambda inst: inst.state not in ("paid", "cancelled")
            ).write({"state": "cancelled", "next_attempt_date": False})
            authorizations = plan.sudo().authorization_ids.filtered(
                lambda auth: auth.state in ("awaiting", "active")
            )
            if authorizations:
                authorizations.action_revoke()
        as_plan_owner(self).write({"state": "cancelled"})
        return True

    def action_view_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("account.action_move_out_invoice")
        action["domain"] = [("id", "in", self.invoice_ids.ids)]
        action["context"] = {"create": False}
        return action

    @api.model
    def action_create_from_invoices(self, invoices):
        """Open a new draft plan for the selected invoices ("Create payment plan").

        :param invoices: the `account.move` selected in the invoice list
        :raise UserError: invoices of several clients or currencies, or not open
        """
        if not invoices:
            raise UserError(_("Select the invoices to pay in instalments."))
        if len(invoices.commercial_partner_id) > 1 or len(invoices.currency_id) > 1:
            raise UserError(_("A payment plan pays the invoices of one client, in one currency."))
        plan = self.create(
            {
                "partner_id": invoices.commercial_partner_id.id,
                "currency_id": invoices.currency_id.id,
                "company_id": invoices.company_id[:1].id,
                "invoice_ids": [fields.Command.set(invoices.ids)],
            }
        )
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": plan.id,
            "view_mode": "form",
            "views": [(False, "form")],
        }

    # === BUSINESS METHODS - CHECKS === #

    def _check_state(self, allowed):
        """Refuse a state change from a state not in ``allowed``.

        :raise UserError: naming the plan and its state
        """
        self.ensure_one()
        if self.state not in allowed:
            state = dict(self._fields["state"]._description_selection(self.env))[self.state]
            raise UserError(
                _("Payment plan %(plan)s is %(state)s.", plan=self.name, state=state.lower())
            )

    def _check_sendable(self):
        """Check what the client is asked to accept.

        :raise UserError: no invoices, invoices paid or in another open plan, a schedule that
            does not add up to the total to the cent
        """
        self.ensure_one()
        currency = self.currency_id
        if not self.invoice_ids:
            raise UserError(_("Add the invoices the plan pays."))
        as_plan_owner(self).amount_total = self.amount_residual
        if currency.compare_amounts(self.amount_total, 0) <= 0:
            raise UserError(_("Nothing is due on these invoices."))
        others = self.search(
            [
                ("id", "!=", self.id),
                ("invoice_ids", "in", self.invoice_ids.ids),
                ("state", "in", ("awaiting", "running")),
            ]
        )
        if others:
            raise UserError(
                _(
                    "%(invoices)s already paid by payment plan %(plan)s.",
                    invoices=", ".join(
                        (others.invoice_ids & self.invoice_ids).mapped("display_name")
                    ),
                    plan=others[0].name,
                )
            )
        self._check_schedule()

    def _legal_renumber(self):
        """Number the instalments 1, 2, ... in the order of their due dates."""
        self.ensure_one()
        ordered = self.instalment_ids.sorted(lambda i: (i.due_date, i.sequence, i.id))
        for number, inst in enumerate(ordered, start=1):
            if inst.sequence != number:
                as_plan_owner(inst).sequence = number

    def _check_schedule(self):
        """The instalments add up to the total to the cent, each positive and dated.

        :raise ValidationError: with the difference
        """
        for plan in self:
            currency = plan.currency_id
            instalments = plan.instalment_ids
            if not instalments:
                raise ValidationError(_("Payment plan %s has no instalments.", plan.name))
            if any(currency.compare_amounts(inst.amount, 0) <= 0 for inst in instalments):
                raise ValidationError(_("Every instalment asks for a positive amount."))
            if any(not inst.due_date for inst in instalments):
                raise ValidationError(_("Every instalment has a due date."))
            scheduled = sum(instalments.mapped("amount"))
            if currency.compare_amounts(scheduled, plan.amount_total) != 0:
                raise ValidationError(
                    _(
                        "The instalments add up to %(scheduled)s, not to the total of "
                        "%(total)s (difference %(difference)s).",
                        scheduled=format_amount(self.env, scheduled, currency),
                        total=format_amount(self.env, plan.amount_total, currency),
                        difference=format_amount(self.env, plan.amount_total - scheduled, currency),
                    )
                )

    # === BUSINESS METHODS - LOCKING === #

    def _legal_lock(self):
        """Lock the plans' rows: charges, acceptance and rebalancing never overlap."""
        return lock_rows(self, log_exceptions=False)

    def _legal_lock_invoices(self):
        """Lock the invoices: two plans sent or accepted at once never share an invoice."""
        lock_rows(self.invoice_ids, ["state"])

    # === BUSINESS METHODS - ACCEPTANCE === #

    def _legal_accepting_partner(self):
        """Return the `res.partner` choosing a payment method for this plan: the signed-in
        client user's, else (the system's own code) the plan's client."""
        self.ensure_one()
        user = self.env.user
        if user._is_internal() or user._is_public():
            return self.partner_id.commercial_partner_id
        return user.partner_id

    def _legal_acceptable_tokens(self, partner=None):
        """Return the stored payment methods that may pay this plan, chosen by ``partner``.

        :param partner: the `res.partner` choosing (default: `_legal_accepting_partner`): the
            methods they may use (`payment.token._legal_usable_by_domain`: their own and their
            client's, never another contact's)
        :return: the sudoed `payment.token`, active, of an operating provider of the plan's
            company
        """
        self.ensure_one()
        partner = partner or self._legal_accepting_partner()
        if partner.commercial_partner_id != self.partner_id.commercial_partner_id:
            return self.env["payment.token"]
        Token = self.env["payment.token"]
        tokens = Token.sudo().search(
            [
                *Token._legal_usable_by_domain(partner),
                ("provider_id.company_id", "=", self.company_id.id),
                ("provider_id.state", "in", ("enabled", "test")),
            ]
        )
        return tokens.filtered(lambda token: not token.provider_id.legal_is_trust)

    def _legal_authorization_values(self, token):
        """The terms of the authorization to charge ``token`` for this plan: at most the
        largest instalment per charge, until a week after the last due date."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        due_dates = self.instalment_ids.mapped("due_date")
        return {
            "partner_id": self.partner_id.id,
            "company_id": self.company_id.id,
            "token_id": token.id,
            "scope": "payment_plan",
            "plan_id": self.id,
            "currency_id": self.currency_id.id,
            "max_amount": max(self.instalment_ids.mapped("amount")),
            "date_start": min([today, *due_dates]),
            "date_end": max([today, *due_dates])
            + timedelta(days=const.PLAN_AUTHORIZATION_GRACE_DAYS),
        }

    def _legal_consent_preview(self, token):
        """The authorization text the client accepts with ``token``, before accepting it."""
        self.ensure_one()
        authorization = (
            self.env["legal.payment.authorization"]
            .sudo()
            .new(self._legal_authorization_values(token))
        )
        consent = self.env["legal.payment.consent"]._legal_current(self.company_id)
        return authorization._legal_render_consent(consent)

    def _legal_accept(self, token, ip_address=None, user_agent=None, consent=None):
        """The client accepts the plan and authorizes charging ``token`` for its instalments.

        Creates and accepts an authorization to charge (scope "One Payment Plan", at most the
        largest instalment per charge, until a week after the last due date), then runs the
        plan.

        :param token: the client's `payment.token` to charge
        :param str ip_address: the client's IP address
        :param str user_agent: the client's browser
        :param consent: the `legal.payment.consent` version the client read; required when a
            person accepts; when no longer the current one, nothing is accepted
        :return: the accepted `legal.payment.authorization`
        :raise AccessError: a firm's user, or a user of another client
        :raise UserError: the plan is not awaiting acceptance, the consent text shown is
            missing, the payment method is not one the person may use, or an invoice was paid
            or planned meanwhile
        """
        self.ensure_one()
        Authorization = self.env["legal.payment.authorization"]
        user = self.env.user
        if Authorization._legal_is_person_acting():
            if user._is_internal() or user._is_public():
                raise AccessError(_("Only the client accepts a payment plan, signed in."))
            if user.commercial_partner_id != self.partner_id.commercial_partner_id:
                raise AccessError(_("This payment plan is for another client."))
            if consent is None:
                raise UserError(_("Read the authorization to charge, then accept the plan."))
        plan = as_plan_owner(self.sudo())._legal_lock()
        plan._check_state(("awaiting",))
        if token.sudo() not in plan._legal_acceptable_tokens(plan._legal_accepting_partner()):
            raise UserError(_("Choose one of your saved payment methods."))
        plan._legal_lock_invoices()
        plan._check_sendable()
        authorization = (
            self.env["legal.payment.authorization"]
            .sudo()
            .create(plan._legal_authorization_values(token))
        )
        # Accepted as the client: `accepted_by_id` is the user at the keyboard.
        authorization.with_user(self.env.user).sudo()._legal_accept(
            ip_address=ip_address, user_agent=user_agent, consent=consent
        )
        plan.write({"state": "running", "authorization_id": authorization.id})
        plan.instalment_ids._legal_update_state()
        plan.message_post(
            body=Markup("<p>%s</p>")
            % _(
                "%(user)s accepted the payment plan: %(method)s is charged on each due date "
                "(authorization %(authorization)s).",
                user=self.env.user.display_name,
                method=token.display_name,
                authorization=authorization.name,
            ),
            subtype_xmlid="mail.mt_note",
        )
        return authorization

    # === BUSINESS METHODS - REBALANCING === #

    def _legal_in_flight_amount(self):
        """What the plan's own payments will still take off the invoices: charges pending,
        and charges done but not booked yet."""
        self.ensure_one()
        txs = self.instalment_ids.transaction_ids.filtered(
            lambda tx: tx.state in ("pending", "authorized")
            or (tx.state == "done" and not tx.payment_id)
        )
        return sum(txs._legal_plan_amounts())

    def _legal_rebalance(self):
        """Make the open instalments add up to what is still due on the invoices.

        A payment made outside the plan (a bank transfer, the invoice paid in the portal, paid
        from trust) lowers what is due: the instalments are reduced from the last one backwards
        by what such payments cover, and those wholly covered are paid. Recomputed from scratch
        each time, so that a payment undone later (unreconciled, disputed) re-opens them. Then
        the plan is done when its invoices are paid.

        The caller holds the plan's row lock, or this method takes it.
        """
        for plan in self._legal_lock():
            if plan.state != "running":
                continue
            currency = plan.currency_id
            instalments = plan.instalment_ids.filtered(lambda i: i.state != "cancelled").sorted(
                lambda i: (i.sequence, i.id), reverse=True
            )
            collectable = {
                inst.id: max(0.0, inst.amount - inst.amount_paid - inst.amount_in_progress)
                for inst in instalments
            }
            target = max(0.0, plan.amount_residual - plan._legal_in_flight_amount())
            excess = currency.round(max(0.0, sum(collectable.values()) - target))
            for inst in instalments:
                covered = currency.round(min(excess, collectable[inst.id]))
                excess = currency.round(excess - covered)
                if currency.compare_amounts(inst.amount_outside, covered) != 0:
                    as_plan_owner(inst).amount_outside = covered
            instalments._legal_update_state()
            plan._legal_check_done()

    def _legal_check_done(self):
        """A running plan whose invoices are paid is done; what was still planned is
        cancelled."""
        for plan in self.filtered(lambda p: p.state == "running"):
            if not plan.currency_id.is_zero(plan.amount_residual):
                continue
            if plan.instalment_ids.transaction_ids.filtered(
                lambda tx: tx.state in ("pending", "authorized")
            ):
                continue
            # What the plan did not take a payment for is no longer needed.
            as_plan_owner(plan.instalment_ids).filtered(
                lambda i: i.state != "cancelled"
                and (i.state != "paid" or i.currency_id.is_zero(i.amount_paid))
            ).write({"state": "cancelled", "next_attempt_date": False})
            as_plan_owner(plan).state = "done"
            plan.message_post(
                body=Markup("<p>%s</p>") % _("The invoices are paid: the payment plan is done."),
                subtype_xmlid="mail.mt_note",
            )

    @api.model
    def _legal_rebalance_invoices(self, invoices):
        """Rebalance the running plans paying any of ``invoices`` (their payments changed)."""
        if not invoices:
            return
        plans = self.sudo().search([("invoice_ids", "in", invoices.ids), ("state", "=", "running")])
        plans._legal_rebalance()

    # === BUSINESS METHODS - CHARGING === #

    @api.model
    def _cron_charge_instalments(self, auto_commit=True):
        """Charge the due instalments of the running plans with the authorized payment method.

        Each instalment is charged in its own database transaction, under its row lock taken
        with ``SKIP LOCKED``: two runs at once never charge the same instalment, and each
        attempt has its own row (unique per instalment and attempt number) whose reference is
        the Stripe idempotency key's. The charge is booked right after (or by Odoo's payment
        post-processing cron if that fails).

        :param bool auto_commit: commit after each instalment (cron); False inside tests
        """
        Instalment = self.env["legal.payment.plan.instalment"].sudo()
        for plan in self.sudo().search([("state", "=", "running")]):
            # Instalments reaching their due date become due; payments made outside the plan
            # are counted.
            try:
                with self.env.cr.savepoint():
                    plan._legal_rebalance()
            except (pg_errors.SerializationFailure, pg_errors.LockNotAvailable):
                _logger.info("payment plan %s is being updated by another run", plan.name)
            if auto_commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
        instalment_ids = Instalment.search(Instalment._legal_chargeable_domain()).ids
        for instalment_id in instalment_ids:
            instalment = Instalment.browse(instalment_id)
            try:
                with self.env.cr.savepoint():
                    tx = instalment._legal_charge()
            except (pg_errors.SerializationFailure, pg_errors.LockNotAvailable):
                # Charged meanwhile by another run: the next run sees it.
                _logger.info("instalment %s is being charged by another run", instalment_id)
                tx = None
            except Exception:  # noqa: BLE001 - the next run retries the same attempt
                # Everything of this instalment is rolled back, its attempt row included: the
                # next run makes the same attempt again, with the same reference, hence the
                # same idempotency key (Stripe answers it once).
                _logger.exception("charging instalment %s failed", instalment_id)
                tx = None
            if auto_commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
            if tx and tx.state == "done" and not tx.is_post_processed:
                try:
                    with self.env.cr.savepoint():
                        tx._post_process()
                except Exception:  # noqa: BLE001 - Odoo's post-processing cron retries
                    _logger.exception("booking the plan payment %s failed", tx.reference)
                if auto_commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit

    # === BUSINESS METHODS - NOTIFICATIONS === #

    def _legal_tell_firm(self, summary, note):
        """An activity for the responsible user and a note in the chatter."""
        self.ensure_one()
        user = self.user_id or self.env.ref("base.user_admin", raise_if_not_found=False)
        self.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=note,
            user_id=user.id if user else self.env.uid,
        )
        self.message_post(
            body=Markup("<p><b>%s</b></p><p>%s</p>") % (summary, note),
            subtype_xmlid="mail.mt_note",
        )

    def _legal_schedule_summary(self):
        """The schedule as one line per instalment, for the chatter and e-mails."""
        self.ensure_one()
        return [
            _(
                "%(due)s: %(amount)s",
                due=format_date(self.env, inst.due_date),
                amount=format_amount(self.env, inst.amount, self.currency_id),
            )
            for inst in self.instalment_ids
        ]
