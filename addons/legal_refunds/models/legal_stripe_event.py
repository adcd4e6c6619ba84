# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, models


class LegalStripeEvent(models.Model):
    _inherit = "legal.stripe.event"

    def _legal_process_refund_failed(self, event, refund):
        """``refund.failed`` / ``refund.updated``: the refund object's new status, applied to
        its refund transaction (a failure reverses the client refund's entries)."""
        tx = (
            self.env["payment.transaction"]
            .sudo()
            .search(
                [
                    ("provider_reference", "=", refund["id"]),
                    ("provider_code", "=", "stripe"),
                    ("operation", "=", "refund"),
                ],
                limit=1,
            )
        )
        if not tx:
            return "deferred", _("Waiting for the refund transaction to be created.")
        self.transaction_id = tx
        tx._legal_lock()
        tx._handle_notification_data("stripe", {"reference": tx.reference, "refund": refund})
        return "done", False

    _legal_process_refund_updated = _legal_process_refund_failed
