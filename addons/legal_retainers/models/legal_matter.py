import logging

from psycopg2.errors import UniqueViolation

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.legal_trust.utils import retry_serialization

from .legal_retainer_request import OPEN_STATES, as_autocharge_owner

_logger = logging.getLogger(__name__)


class LegalMatter(models.Model):
    _inherit = "legal.matter"

    retainer_enabled = fields.Boolean(string="Retainers", tracking=True)
    retainer_type = fields.Selection(
        [("general", "General")],
        default="general",
        required=True,
        help="General: held in trust for the matter and applied to its invoices.",
    )
    retainer_initial_amount = fields.Monetary(string="Initial Retainer", tracking=True)
    retainer_minimum_balance = fields.Monetary(
        string="Minimum Balance",
        tracking=True,
        help="What the client keeps in trust for the matter: a top-up asks for the difference.",
    )
    retainer_topup_trigger = fields.Monetary(
        string="Top-up Trigger",
        tracking=True,
        help="When the available trust funds reach or fall below this amount, a top-up is "
        "requested.",
    )
    retainer_auto_topup = fields.Boolean(string="Automatic Top-up", tracking=True)
    retainer_send_mode = fields.Selection(
        [("auto", "Send automatically"), ("review", "Draft for review")],
        string="Top-up Requests",
        default="auto",
        required=True,
    )
    retainer_auto_apply = fields.Boolean(
        string="Apply Trust Funds to Invoices",
        tracking=True,
        help="When an invoice of the matter is posted, available trust funds pay it.",
    )
    retainer_engagement_consent = fields.Char(
        string="Client Engagement",
        tracking=True,
        help="Where the client agreed that trust funds pay the matter's invoices (engagement "
        "letter reference and date). Required to apply funds automatically.",
    )
    retainer_request_ids = fields.One2many(
        "legal.retainer.request", "matter_id", string="Retainer Requests"
    )
    retainer_initial_paid = fields.Monetary(compute="_compute_retainer_initial_paid")

    @api.depends("retainer_request_ids.amount_paid", "retainer_request_ids.kind")
    def _compute_retainer_initial_paid(self):
        for matter in self:
            matter.retainer_initial_paid = sum(
                matter.retainer_request_ids.filtered(lambda r: r.kind == "initial").mapped(
                    "amount_paid"
                )
            )

    @api.constrains(
        "retainer_initial_amount",
        "retainer_minimum_balance",
        "retainer_topup_trigger",
        "retainer_auto_apply",
        "retainer_engagement_consent",
    )
    def _check_retainer_settings(self):
        for matter in self:
            amounts = (
                matter.retainer_initial_amount,
                matter.retainer_minimum_balance,
                matter.retainer_topup_trigger,
            )
            if any(matter.currency_id.compare_amounts(a, 0) < 0 for a in amounts):
                raise UserError(_("Retainer amounts cannot be negative."))
            if (
                matter.currency_id.compare_amounts(
                    matter.retainer_topup_trigger, matter.retainer_minimum_balance
                )
                > 0
            ):
                raise UserError(
                    _("The top-up trigger cannot be above the minimum balance it restores.")
                )
            if matter.retainer_auto_apply and not matter.retainer_engagement_consent:
                raise UserError(
                    _(
                        "Record where the client agreed (engagement) before applying trust "
                        "funds to invoices automatically."
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._retainer_check_consent_fields(vals)
        return super().create(vals_list)

    def _retainer_check_consent_fields(self, vals):
        """Turning on "Apply Trust Funds to Invoices", or changing the client's engagement it
        relies on, takes the client's money out of trust without asking them each time: it is
        the trust manager's, like every other way money leaves trust. Turning it off is
        everyone's.

        :raise AccessError: for a user who is not a trust manager
        """
        consent_like = vals.get("retainer_auto_apply") or vals.get("retainer_engagement_consent")
        if (
            consent_like
            and not self.env.su
            and not self.env.user.has_group("legal_trust.group_trust_manager")
        ):
            raise AccessError(
                _(
                    "Only a trust manager applies a client's trust funds to invoices "
                    "automatically, or records the engagement that allows it."
                )
            )

    def write(self, vals):
        self._retainer_check_consent_fields(vals)
        if "retainer_initial_amount" in vals:
            for matter in self:
                if matter.retainer_initial_paid and matter.currency_id.compare_amounts(
                    vals["retainer_initial_amount"] or 0.0, matter.retainer_initial_amount
                ):
                    raise UserError(
                        _(
                            "A payment was made towards the initial retainer of %s: its "
                            "amount can no longer be edited.",
                            matter.display_name,
                        )
                    )
        res = super().write(vals)
        if "retainer_initial_amount" in vals:
            self._retainer_follow_initial_amount()
        if vals.get("retainer_auto_topup"):
            self._retainer_check_topup()
        return res

    def _retainer_follow_initial_amount(self):
        """An open initial request nothing was paid on asks for the new initial amount (it
        is cancelled when the initial amount is cleared)."""
        for matter in self:
            requests = matter.retainer_request_ids.filtered(
                lambda r: r.kind == "initial"
                and r.state in OPEN_STATES
                and not r.amount_paid
                and not r.transaction_ids.filtered(lambda tx: tx.state in ("pending", "authorized"))
            )
            if not requests:
                continue
            if matter.currency_id.compare_amounts(matter.retainer_initial_amount, 0) > 0:
                requests.amount = matter.retainer_initial_amount
            else:
                requests.action_cancel()

    # ------------------------------------------------------------------ "Create online"
    def action_request_retainer(self, amount=None, due_date=None):
        """The "Create online" button: request the initial retainer less what was paid for it
        (re-sending the open initial request if any), or ``amount`` as an additional retainer.

        :param float amount: the amount of an additional retainer; None for the initial one
        :param due_date: the date by which the client is asked to pay (optional)
        :return: the sent ``legal.retainer.request``
        :raise UserError: retainers disabled, closed matter, nothing left to request
        """
        self.ensure_one()
        if not self.retainer_enabled:
            raise UserError(_("Enable retainers on %s first.", self.display_name))
        if self.state != "open":
            raise UserError(_("%s is closed: it takes no retainer.", self.display_name))
        Request = self.env["legal.retainer.request"]
        if amount:
            request = Request.create(
                {"matter_id": self.id, "kind": "other", "amount": amount, "due_date": due_date}
            )
        else:
            request = self.retainer_request_ids.filtered(
                lambda r: r.kind == "initial" and r.state in OPEN_STATES
            )[:1]
            if not request:
                remaining = self.currency_id.round(
                    self.retainer_initial_amount - self.retainer_initial_paid
                )
                if self.currency_id.compare_amounts(remaining, 0) <= 0:
                    raise UserError(
                        _(
                            "The initial retainer of %s is paid: enter the amount of an "
                            "additional retainer instead.",
                            self.display_name,
                        )
                    )
                request = Request.create(
                    {"matter_id": self.id, "kind": "initial", "amount": remaining}
                )
            if due_date:
                request.due_date = due_date
        request.action_send()
        return request

    def action_open_retainer_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Create Retainer Request Online"),
            "res_model": "legal.retainer.request.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_matter_id": self.id},
        }

    # ------------------------------------------------------------------ evergreen top-ups
    def _trust_after_outflow(self):
        res = super()._trust_after_outflow()
        self._retainer_check_topup()
        return res

    def _retainer_check_topup(self):
        """Request a top-up of ``minimum balance − available`` for each matter whose
        available trust funds reached or fell below its trigger, unless a top-up is already
        open; what other open requests of the matter still ask for is deducted (never ask
        twice).

        Runs in the transaction of the outflow that caused it (under the gate's lock of the
        matter), in the daily cron, or when automatic top-ups are turned on; each takes the
        matter's row lock, and the partial unique index is the last guard.

        :return: the top-up requests created
        """
        created = self.env["legal.retainer.request"]
        for matter in self.sudo():
            if not (
                matter.retainer_enabled and matter.retainer_auto_topup and matter.state == "open"
            ):
                continue
            currency = matter.currency_id
            available = matter.trust_available
            if currency.compare_amounts(available, matter.retainer_topup_trigger) > 0:
                continue
            # Serialize with every other top-up check and trust posting of the matter (a
            # no-op re-lock under the gate): a concurrent one that committed meanwhile makes
            # this transaction fail with a serialization error, retried by the caller.
            matter._trust_lock()
            matter.invalidate_recordset(["retainer_request_ids"])
            open_requests = matter.retainer_request_ids.filtered(lambda r: r.state in OPEN_STATES)
            if open_requests.filtered(lambda r: r.kind == "topup"):
                continue  # one open top-up at a time
            # What the client was already asked for and has not paid yet counts.
            asked = sum(open_requests.mapped("amount_due"))
            amount = currency.round(matter.retainer_minimum_balance - available - asked)
            if currency.compare_amounts(amount, 0) <= 0:
                continue
            try:
                with self.env.cr.savepoint():
                    request = (
                        self.env["legal.retainer.request"]
                        .sudo()
                        .create({"matter_id": matter.id, "kind": "topup", "amount": amount})
                    )
            except UniqueViolation:
                continue  # another transaction opened it meanwhile
            # A matter whose top-ups the lawyer reviews first is never charged unreviewed.
            authorization = (
                matter.retainer_send_mode == "auto" and request._retainer_find_authorization()
            )
            if authorization:
                # Charged by the cron, after this transaction commits; e-mailed if it fails.
                as_autocharge_owner(request).write(
                    {
                        "autocharge_authorization_id": authorization.id,
                        "autocharge_state": "pending",
                    }
                )
                self.env.ref("legal_retainers.ir_cron_retainer_topup_charges")._trigger()
            elif matter.retainer_send_mode == "auto":
                request.action_send()
            else:
                request.activity_schedule(
                    "mail.mail_activity_data_todo",
                    user_id=matter.user_id.id or self.env.uid,
                    summary=_("Review and send the top-up request"),
                )
            created |= request
        return created

    @api.model
    def _cron_retainer_topups(self):
        """Daily check of every matter with automatic top-ups, one transaction each."""
        matters = self.search(
            [
                ("retainer_enabled", "=", True),
                ("retainer_auto_topup", "=", True),
                ("state", "=", "open"),
            ]
        )
        for matter_id in matters.ids:

            def check(matter_id=matter_id):
                matter = self.browse(matter_id)
                matter._trust_lock()
                matter._retainer_check_topup()

            try:
                retry_serialization(self.env.cr, check)
            except Exception:  # noqa: BLE001 - one matter's failure must not stop the others
                _logger.exception("retainer top-up check failed for matter %s", matter_id)
