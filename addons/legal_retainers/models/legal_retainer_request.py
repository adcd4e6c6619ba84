import logging

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import format_amount

from odoo.addons.legal_payments import utils as payment_utils
from odoo.addons.legal_trust.utils import lock_rows

_logger = logging.getLogger(__name__)

OPEN_STATES = ("draft", "sent", "partial")

#: Context marker of the top-up code that decides to charge a request automatically under the
#: client's authorization: a module-level object no RPC caller can send.
_AUTOCHARGE_OWNER = object()
_AUTOCHARGE_OWNER_KEY = "legal_retainer_autocharge_owner"
#: Set only by that code: which authorization a top-up is charged under, and whether it is.
AUTOCHARGE_FIELDS = {"autocharge_authorization_id", "autocharge_state"}


def as_autocharge_owner(records):
    """Return ``records`` in the context of the code that owns automatic top-up charges."""
    return records.with_context(**{_AUTOCHARGE_OWNER_KEY: _AUTOCHARGE_OWNER})


def is_autocharge_owner(records):
    """Whether ``records`` are changed by the code that owns automatic top-up charges."""
    return records.env.context.get(_AUTOCHARGE_OWNER_KEY) is _AUTOCHARGE_OWNER


class LegalRetainerRequest(models.Model):
    """A request to the client to deposit money into trust for a matter, paid online."""

    _name = "legal.retainer.request"
    _description = "Retainer Request"
    _inherit = ["portal.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Reference", required=True, readonly=True, copy=False, default=lambda s: _("New")
    )
    matter_id = fields.Many2one(
        "legal.matter",
        required=True,
        index=True,
        ondelete="restrict",
        check_company=True,
        tracking=True,
    )
    partner_id = fields.Many2one(related="matter_id.partner_id", store=True, string="Client")
    company_id = fields.Many2one(related="matter_id.company_id", store=True)
    currency_id = fields.Many2one(related="matter_id.currency_id")
    kind = fields.Selection(
        [("initial", "Initial Retainer"), ("topup", "Top-up"), ("other", "Additional Retainer")],
        required=True,
        default="other",
        readonly=True,
    )
    amount = fields.Monetary(required=True, tracking=True)
    amount_paid = fields.Monetary(compute="_compute_amounts", store=True)
    amount_due = fields.Monetary(compute="_compute_amounts", store=True)
    due_date = fields.Date()
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("sent", "Sent"),
            ("partial", "Partially Paid"),
            ("paid", "Paid"),
            ("cancelled", "Cancelled"),
        ],
        default="draft",
        required=True,
        readonly=True,
        tracking=True,
        copy=False,
        help="Follows the request's sending, its payments and its cancellation; never set by "
        "hand.",
    )
    transaction_ids = fields.One2many(
        "payment.transaction", "legal_retainer_request_id", string="Payments", readonly=True
    )
    autocharge_authorization_id = fields.Many2one(
        "legal.payment.authorization",
        string="Charged Under",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The client's authorization to charge a stored payment method for this matter's "
        "trust top-ups: the top-up is charged automatically and e-mailed only when the charge "
        "is refused or fails.",
    )
    autocharge_state = fields.Selection(
        [("pending", "To Charge"), ("charged", "Charged"), ("failed", "Charge Failed")],
        string="Automatic Charge",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )

    _sql_constraints = [
        ("amount_positive", "CHECK(amount > 0)", "A retainer request asks for a positive amount."),
    ]

    def init(self):
        res = super().init()
        # Never more than one open top-up request per matter, whatever runs at once.
        self.env.cr.execute(
            """
            CREATE UNIQUE INDEX IF NOT EXISTS legal_retainer_request_one_open_topup
                ON legal_retainer_request (matter_id)
             WHERE kind = 'topup' AND state IN ('draft', 'sent', 'partial')
            """
        )
        return res

    # ------------------------------------------------------------------ compute
    @api.depends(
        "amount",
        "transaction_ids.legal_trust_move_id",
        "transaction_ids.legal_trust_move_id.reversal_move_ids.state",
    )
    def _compute_amounts(self):
        for request in self:
            paid = sum(
                tx.amount
                for tx in request.transaction_ids
                if tx.legal_trust_move_id
                and not tx.legal_trust_move_id.reversal_move_ids.filtered(
                    lambda move: move.state == "posted"
                )
            )
            request.amount_paid = request.currency_id.round(paid)
            request.amount_due = request.currency_id.round(max(request.amount - paid, 0.0))

    def _compute_access_url(self):  # pylint: disable=missing-return
        for request in self:
            request.access_url = f"/my/retainers/{request.id}"

    # ------------------------------------------------------------------ CRUD
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._retainer_check_autocharge_fields(vals)
            if vals.get("name", _("New")) == _("New"):
                vals["name"] = self.env["ir.sequence"].next_by_code("legal.retainer.request") or _(
                    "New"
                )
        requests = super().create(vals_list)
        for request in requests:
            if not request.matter_id.retainer_enabled:
                raise UserError(
                    _(
                        "Enable retainers on %s before requesting one.",
                        request.matter_id.display_name,
                    )
                )
        return requests

    def write(self, vals):
        if "state" in vals and not self.env.su:
            raise AccessError(
                _(
                    "The status of a retainer request follows its sending, its payments and its "
                    "cancellation: it cannot be set by hand."
                )
            )
        self._retainer_check_autocharge_fields(vals)
        if "amount" in vals and any(r.amount_paid for r in self):
            raise UserError(_("The amount of a retainer request cannot change once paid into."))
        return super().write(vals)

    def _retainer_check_autocharge_fields(self, vals):
        """Refuse to set what is charged automatically, and under which authorization, but
        from the top-up code (`legal.matter._retainer_check_topup` and the charge itself): a
        stored method is charged only under the client's own authorization, never because a
        user wrote these fields.

        :raise AccessError: for every other caller, superuser included
        """
        if AUTOCHARGE_FIELDS & set(vals) and not is_autocharge_owner(self):
            raise AccessError(
                _(
                    "A top-up is charged automatically only under the client's authorization "
                    "to charge, found by the top-up itself: it cannot be set by hand."
                )
            )

    # ------------------------------------------------------------------ actions
    def action_send(self):
        """E-mail the request with its Pay Now link (from draft, sent or partially paid)."""
        template = self.env.ref("legal_retainers.mail_template_retainer_request")
        for request in self:
            if request.state not in OPEN_STATES:
                raise UserError(_("%s can no longer be sent.", request.name))
            request._portal_ensure_token()
            request.message_post_with_source(
                template, subtype_xmlid="mail.mt_comment", partner_ids=request.partner_id.ids
            )
            if request.state == "draft":
                request.sudo().state = "sent"
        # A top-up drafted for review: the review is done.
        self.activity_feedback(["mail.mail_activity_data_todo"])
        return True

    def action_cancel(self):
        for request in self:
            if request.state not in OPEN_STATES:
                raise UserError(_("%s can no longer be cancelled.", request.name))
            if request.transaction_ids.filtered(lambda tx: tx.state in ("pending", "authorized")):
                raise UserError(_("%s has a payment in progress.", request.name))
        self.sudo().write({"state": "cancelled"})

    # ------------------------------------------------------------------ Pay Now
    def _legal_pay_now_url(self):
        """Return the absolute Pay Now link of the request: its portal page with its access
        token, as in the request's e-mail.

        :rtype: str
        """
        self.ensure_one()
        return self.get_base_url() + self.get_portal_url()

    def _legal_pay_now_document_values(self):
        """Return what the printed request shows to be paid online, or False.

        Printed while the request is sent or partially paid with an amount due, and a
        published trust provider (enabled or in test mode) can take that amount in the
        matter's currency.

        :return: dict with ``url``, ``qr_src`` (Odoo's barcode service), ``amount`` and
            ``currency``; False when nothing is to be printed
        :rtype: dict | bool
        """
        self.ensure_one()
        request = self.sudo()
        if request.state not in ("sent", "partial") or request.currency_id.is_zero(
            request.amount_due
        ):
            return False
        if not self.env["payment.provider"]._legal_online_payment_possible(
            request.company_id,
            request.partner_id,
            request.amount_due,
            request.currency_id,
            trust=True,
        ):
            return False
        url = request._legal_pay_now_url()
        return {
            "url": url,
            "qr_src": payment_utils.pay_now_qr_src(url),
            "amount": request.amount_due,
            "currency": request.currency_id,
        }

    # ------------------------------------------------------------------ automatic charge
    def _retainer_find_authorization(self):
        """Return the client's authorization in force to charge a stored payment method of a
        trust provider for this matter's top-ups, covering this request's amount (or nothing).
        """
        self.ensure_one()
        authorizations = (
            self.env["legal.payment.authorization"]
            .sudo()
            .search(
                [
                    ("scope", "=", "trust_topup"),
                    ("matter_id", "=", self.matter_id.id),
                    ("state", "=", "active"),
                    ("currency_id", "=", self.currency_id.id),
                    ("max_amount", ">=", self.amount),
                ],
                order="id desc",
            )
        )
        return authorizations.filtered(
            lambda auth: auth._legal_is_in_force() and auth.token_id.provider_id.legal_is_trust
        )[:1]

    def _retainer_charge_stored_method(self):
        """Charge this top-up on the client's authorized stored payment method, through the
        trust provider (an offline token charge, checked by the authorization gate); when the
        charge is refused or fails, e-mail the request instead.

        Takes the request's row lock: a request is charged once, whoever runs this at once.

        :return: the `payment.transaction` charged, or None when the request was e-mailed
        """
        self.ensure_one()
        lock_rows(self)
        if self.autocharge_state != "pending":
            return None
        token = self.autocharge_authorization_id.token_id.sudo()
        try:
            with self.env.cr.savepoint():
                if self.state == "draft":
                    self.sudo().state = "sent"
                amount = self.amount_due
                self._retainer_check_payable(amount, self.currency_id)
                Transaction = self.env["payment.transaction"].sudo()
                tx = Transaction.create(
                    {
                        "provider_id": token.provider_id.id,
                        "payment_method_id": token.payment_method_id.id,
                        "token_id": token.id,
                        "amount": amount,
                        "currency_id": self.currency_id.id,
                        "partner_id": self.partner_id.id,
                        "reference": Transaction._compute_reference(
                            token.provider_id.code, prefix=self.name
                        ),
                        "operation": "offline",
                        "legal_matter_id": self.matter_id.id,
                        "legal_retainer_request_id": self.id,
                    }
                )
                tx._send_payment_request()
        except (UserError, ValidationError) as exc:
            return self._retainer_charge_failed(exc.args[0])
        if tx.state not in ("done", "pending", "authorized"):
            return self._retainer_charge_failed(tx.state_message or _("The charge failed."))
        as_autocharge_owner(self).autocharge_state = "charged"
        tx._post_process()
        return tx

    def _retainer_charge_failed(self, reason):
        """The automatic charge was refused or failed: say why, and e-mail the request."""
        as_autocharge_owner(self).autocharge_state = "failed"
        self.message_post(
            body=Markup("<p>%s</p>")
            % _("The stored payment method could not be charged: %s", reason),
            subtype_xmlid="mail.mt_note",
        )
        self.action_send()
        return None

    @api.model
    def _cron_retainer_charge_topups(self, auto_commit=True):
        """Charge the top-ups the clients authorized on a stored payment method, one
        transaction each.

        :param bool auto_commit: commit after each request (cron); False inside tests
        """
        for request_id in self.search([("autocharge_state", "=", "pending")]).ids:
            try:
                self.browse(request_id)._retainer_charge_stored_method()
                if auto_commit:
                    self.env.cr.commit()  # pylint: disable=invalid-commit
            except Exception:  # noqa: BLE001 - one request's failure must not stop the others
                if not auto_commit:
                    raise
                self.env.cr.rollback()
                _logger.exception("automatic charge of retainer request %s failed", request_id)

    # ------------------------------------------------------------------ payments
    def _retainer_check_payable(self, amount, currency):
        """Refuse a payment of this request that is not allowed.

        :raise UserError: cancelled/paid/draft request, other currency, above the amount due
            (less payments still in progress)
        """
        self.ensure_one()
        lock_rows(self)
        if self.state not in ("sent", "partial"):
            raise UserError(_("Retainer request %s cannot be paid.", self.name))
        if currency != self.currency_id:
            raise UserError(
                _(
                    "Retainer request %(name)s is payable in %(currency)s only.",
                    name=self.name,
                    currency=self.currency_id.name,
                )
            )
        in_flight = sum(
            self.transaction_ids.filtered(
                lambda tx: tx.state in ("pending", "authorized") and not tx.legal_trust_move_id
            ).mapped("amount")
        )
        payable = self.currency_id.round(self.amount_due - in_flight)
        if (
            self.currency_id.compare_amounts(amount, 0) <= 0
            or self.currency_id.compare_amounts(amount, payable) > 0
        ):
            raise UserError(
                _(
                    "Retainer request %(name)s: %(amount)s is not payable (%(due)s due).",
                    name=self.name,
                    amount=format_amount(self.env, amount or 0.0, self.currency_id),
                    due=format_amount(self.env, payable, self.currency_id),
                )
            )

    def _retainer_update_state(self):
        """Follow what was paid: partial or paid (cancelled and draft requests stay)."""
        for request in self:
            if request.state in ("draft", "cancelled"):
                continue
            if request.currency_id.is_zero(request.amount_due):
                state = "paid"
            elif request.amount_paid:
                state = "partial"
            else:
                state = "sent"
            if request.state != state:
                request.sudo().state = state

    def _retainer_payment_received(self, transaction, cleared=True):
        """Follow the payment on the request and tell the responsible lawyer at once: a note
        on the request and on the matter, notifying the lawyer (e-mail or inbox, as the
        lawyer chose).

        :param transaction: the `payment.transaction` credited to the matter's trust ledger
        :param bool cleared: False for a bank debit still processing
        """
        self.ensure_one()
        was_open = self.state in OPEN_STATES
        self._retainer_update_state()
        lawyer = self.matter_id.user_id.partner_id
        body = Markup("<p>%s</p>") % _(
            "%(client)s paid %(amount)s towards retainer request %(name)s (%(due)s still due).",
            client=self.partner_id.display_name,
            amount=format_amount(self.env, transaction.amount, self.currency_id),
            name=self.name,
            due=format_amount(self.env, self.amount_due, self.currency_id),
        )
        if not cleared:
            body += Markup("<p>%s</p>") % _(
                "A bank payment: held in trust, available once it clears."
            )
        if not was_open:
            body += Markup("<p>%s</p>") % _(
                "The request was already %s: the money is held in trust for the matter all "
                "the same.",
                dict(self._fields["state"]._description_selection(self.env))[self.state],
            )
        elif self.currency_id.compare_amounts(self.amount_paid, self.amount) > 0:
            body += Markup("<p>%s</p>") % _(
                "%s more than requested was paid: it is held in trust for the matter.",
                format_amount(self.env, self.amount_paid - self.amount, self.currency_id),
            )
        self.message_post(body=body, subtype_xmlid="mail.mt_note")
        self.matter_id.message_post(
            body=body,
            partner_ids=lawyer.ids,
            subtype_xmlid="mail.mt_note",
        )
