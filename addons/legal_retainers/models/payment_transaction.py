from odoo import api, fields, models
from odoo.exceptions import ValidationError


class PaymentTransaction(models.Model):
    _inherit = "payment.transaction"

    legal_retainer_request_id = fields.Many2one(
        "legal.retainer.request",
        string="Retainer Request",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
    )

    @api.constrains("legal_retainer_request_id", "legal_matter_id")
    def _check_retainer_request_matter(self):
        for tx in self.filtered("legal_retainer_request_id"):
            if tx.legal_matter_id != tx.legal_retainer_request_id.matter_id:
                raise ValidationError(
                    self.env._("A retainer is paid into the trust ledger of its own matter.")
                )

    def _legal_post_trust_deposit(self, cleared=True):
        """Override of `legal_payments`: a deposit paying a retainer request updates it and
        tells the responsible lawyer, once (the deposit itself is posted once, under the
        transaction's row lock taken by `legal_payments`)."""
        first_time = not self.legal_trust_move_id
        move = super()._legal_post_trust_deposit(cleared=cleared)
        request = self.sudo().legal_retainer_request_id
        if request and first_time:
            request._retainer_payment_received(self, cleared=cleared)
        return move

    def _legal_reverse_trust_deposit(self):
        """Override of `legal_payments`: a failed bank payment no longer counts as paid."""
        res = super()._legal_reverse_trust_deposit()
        self.sudo().legal_retainer_request_id._retainer_update_state()
        return res

    def _legal_notify_firm(self, kind, message=None):
        """Override of `legal_payments`: a card payment of a retainer request was already
        announced with its request when it was credited (see `_retainer_payment_received`);
        bank debits are still announced when they settle, failures and disputes always."""
        if (
            kind == "paid"
            and self.legal_retainer_request_id
            and self.payment_method_id.code != "ach_direct_debit"
        ):
            return None
        return super()._legal_notify_firm(kind, message=message)
