# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import models


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    def _reconcile_post_hook(self, data):
        """Override of `account`: a payment of an invoice paid by a running payment plan (made
        through the plan or not) rebalances the plan's remaining instalments."""
        res = super()._reconcile_post_hook(data)
        invoices = data["not_paid_invoices"] | data["in_payment_invoices"]
        self.env["legal.payment.plan"]._legal_rebalance_invoices(
            invoices.filtered(lambda move: move.move_type == "out_invoice")
        )
        return res

    def remove_move_reconcile(self):
        """Override of `account`: a payment taken off an invoice of a running payment plan
        re-opens the instalments it covered."""
        partials = self.matched_debit_ids | self.matched_credit_ids
        moves = (self | partials.debit_move_id | partials.credit_move_id).move_id
        res = super().remove_move_reconcile()
        self.env["legal.payment.plan"]._legal_rebalance_invoices(
            moves.filtered(lambda move: move.move_type == "out_invoice")
        )
        return res
