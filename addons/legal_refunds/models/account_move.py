# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, fields, models


class AccountMove(models.Model):
    _inherit = "account.move"

    legal_refund_line_ids = fields.One2many(
        "legal.refund.line", "source_move_id", string="Client Refund Lines", readonly=True
    )
    legal_refund_count = fields.Integer(compute="_compute_legal_refund_count")

    def _compute_legal_refund_count(self):
        for move in self:
            move.legal_refund_count = len(move._legal_refunds())

    def _legal_refunds(self):
        """Client refunds that settle this credit, or whose entry this is."""
        self.ensure_one()
        Line = self.env["legal.refund.line"].sudo()
        lines = Line.search(
            [
                "|",
                "|",
                "|",
                ("source_move_id", "=", self.id),
                ("trust_move_id", "=", self.id),
                ("payment_id.move_id", "=", self.id),
                ("reversal_move_ids", "in", self.id),
            ]
        )
        return lines.refund_id.with_env(self.env)

    def action_view_legal_refunds(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Client Refunds"),
            "res_model": "legal.refund",
            "view_mode": "list,form",
            "domain": [("id", "in", self._legal_refunds().ids)],
        }


class AccountMoveLine(models.Model):
    _inherit = "account.move.line"

    def _legal_refundable_amount(self, exclude=None):
        """What this credit item still owes the client: its open residual, less what
        refunds still pending at the provider have taken from it.

        :param exclude: `legal.refund.line` records not to count (the refund being checked)
        :rtype: float
        """
        self.ensure_one()
        if self.reconciled or self.parent_state != "posted":
            return 0.0
        pending = (
            self.env["legal.refund.line"]
            .sudo()
            .search(
                [
                    ("source_line_id", "=", self.id),
                    ("state", "=", "pending"),
                    ("payment_id", "=", False),
                    ("id", "not in", (exclude or self.env["legal.refund.line"]).ids),
                ]
            )
        )
        currency = self.company_currency_id
        return currency.round(max(0.0, -self.amount_residual - sum(pending.mapped("amount"))))

    def _legal_source_transactions(self):
        """The done Stripe payments that brought this credit in, most refundable first.

        A payment's credit comes from its own transaction; a credit note's from the
        transactions that paid the invoice it reverses.
        """
        self.ensure_one()
        move = self.move_id
        txs = move.origin_payment_id.payment_transaction_id
        if move.move_type == "out_refund" and move.reversed_entry_id:
            invoice = move.reversed_entry_id
            txs |= (
                invoice.transaction_ids | invoice._get_reconciled_payments().payment_transaction_id
            )
        txs = txs.sudo().filtered(
            lambda tx: tx.state == "done"
            and tx.operation != "refund"
            and tx.provider_code == "stripe"
            and not tx.provider_id.legal_is_trust
        )
        return txs.sorted(lambda tx: -tx._legal_refundable_amount())
