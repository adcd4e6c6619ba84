# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from .. import const


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    legal_refund_line_id = fields.Many2one(
        "legal.refund.line",
        string="Client Refund Line",
        readonly=True,
        copy=False,
        index="btree_not_null",
    )
    legal_refund_id = fields.Many2one(
        related="legal_refund_line_id.refund_id", string="Client Refund"
    )

    # === ACTION METHODS === #

    def action_refund(self, amount_to_refund=None):
        """Override of `payment` to keep refunds of trust deposits to trust managers.

        A refund of a trust deposit takes client money out of trust (it is booked as a trust
        disbursement of the matter): like every other way out of trust, it needs the Trust
        Manager role. Odoo's Refund button, its refund wizard (`payment.refund.wizard`) and an
        RPC call all come here; internal code running as superuser (`env.su`) owns its checks.

        :raise AccessError: a trust deposit refunded by a user who is not a Trust Manager
        """
        if (
            not self.env.su
            and any(tx.provider_id.sudo().legal_is_trust for tx in self)
            and not self.env.user.has_group("legal_trust.group_trust_manager")
        ):
            raise AccessError(
                _(
                    "Only members of %s may refund a payment into trust.",
                    self.env.ref("legal_trust.group_trust_manager").sudo().full_name,
                )
            )
        return super().action_refund(amount_to_refund=amount_to_refund)

    # === BUSINESS METHODS - REFUNDS === #

    def _legal_refundable_amount(self):
        """What of this payment can still be refunded: its amount less its refunds that did
        not fail (pending ones included).

        :rtype: float
        """
        self.ensure_one()
        refunds = self.child_transaction_ids.filtered(
            lambda tx: tx.operation == "refund" and tx.state not in ("error", "cancel")
        )
        return self.currency_id.round(self.amount + sum(refunds.mapped("amount")))

    def _legal_lock_for_refund(self):
        """Lock the payment's row and write to it: a concurrent refund or webhook processor
        waiting for it then fails with a serialization error and re-reads its refunds."""
        self._legal_lock()
        self.env.cr.execute(
            SQL(
                "UPDATE payment_transaction SET write_date = write_date WHERE id = ANY(%s)",
                self.ids,
            )
        )
        self.invalidate_recordset()
        self.child_transaction_ids.invalidate_recordset()
        return self

    def _create_child_transaction(self, amount, is_refund=False, **custom_create_values):
        """Override of `payment` to link the refund transaction to its client refund line."""
        line_id = self.env.context.get(const.LINE_CONTEXT_KEY)
        if is_refund and line_id and "legal_refund_line_id" not in custom_create_values:
            custom_create_values["legal_refund_line_id"] = line_id
        return super()._create_child_transaction(
            amount, is_refund=is_refund, **custom_create_values
        )

    def _create_payment(self, **extra_create_values):
        """Override of `account_payment` (through legal_payments) for Stripe refunds.

        A refund of a trust deposit creates no `account.payment`: it is a trust disbursement
        (posted before the request by the wizard, or now for a dashboard refund). A refund of
        an operating payment gets its standard payment (Dr AR, Cr Stripe clearing), then is
        reconciled with the credits of its client refund. A refund made in the Stripe
        dashboard is recorded as a client refund first.
        """
        self.ensure_one()
        if self.operation != "refund" or self.provider_code != "stripe":
            return super()._create_payment(**extra_create_values)
        Line = self.env["legal.refund.line"].sudo()
        if not Line.search_count([("transaction_id", "=", self.id)], limit=1):
            if self.legal_refund_line_id:
                self.legal_refund_line_id.transaction_id = self
            else:
                self.env["legal.refund"]._legal_record_provider_refund(self)
        if self.provider_id.legal_is_trust:
            Line._legal_after_provider_trust_refund(self)
            return self.env["account.payment"]
        payment = super()._create_payment(**extra_create_values)
        Line._legal_after_provider_payment(self, payment)
        return payment

    def _process_notification_data(self, notification_data):
        """Override of `payment` to reverse a client refund that failed at the provider
        (``charge.refund.updated`` / ``refund.failed`` with a failed status)."""
        was_failed = self.state in ("error", "cancel")
        res = super()._process_notification_data(notification_data)
        if (
            self.operation == "refund"
            and self.provider_code == "stripe"
            and not was_failed
            and self.state in ("error", "cancel")
        ):
            lines = (
                self.env["legal.refund.line"].sudo().search([("transaction_id", "=", self.id)])
                or self.legal_refund_line_id
            )
            refund = notification_data.get("refund") or {}
            message = self.state_message
            if refund.get("failure_reason"):
                message = f"{message} ({refund['failure_reason']})"
            lines._legal_on_provider_failure(message)
        return res
