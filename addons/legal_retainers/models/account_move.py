import logging

from markupsafe import Markup

from odoo import _, models
from odoo.exceptions import UserError, ValidationError

from odoo.addons.legal_trust.utils import lock_rows

_logger = logging.getLogger(__name__)


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        """Override of `legal_trust`: apply available trust funds to the posted invoices of
        matters set to auto-apply (with the client's recorded engagement).

        Paying from trust goes through the matter's gate (`trust_pay_invoice`), which then
        runs the evergreen top-up check. When the funds cannot be applied (no operating
        journal, a locked period...), the invoice is posted all the same and the reason is
        noted on it.
        """
        posted = super()._post(soft=soft)
        for invoice in posted.filtered(
            lambda m: m.move_type == "out_invoice"
            and m.matter_id.retainer_auto_apply
            and m.matter_id.retainer_engagement_consent
            and m.matter_id.state == "open"
        ):
            invoice._retainer_auto_apply_trust()
        return posted

    def _retainer_auto_apply_trust(self):
        """Pay this posted invoice from its matter's available trust funds, as far as they go.

        :return: the ids of the trust and operating moves, or None when nothing was applied
        """
        self.ensure_one()
        matter = self.matter_id.sudo()
        if self.currency_id != matter.currency_id:
            return None
        # What trust already paid of this invoice (before a reset to draft) pays it again
        # first: trust is applied once, never twice. The invoice is locked first, so that
        # a concurrent card payment makes this retry and read the new residual.
        lock_rows(self)
        self._legal_trust_reconcile_applied()
        amount = min(self.amount_residual, matter.trust_available)
        if matter.currency_id.compare_amounts(amount, 0) <= 0:
            return None
        try:
            with self.env.cr.savepoint():
                return matter.trust_pay_invoice(self.id, amount=amount)
        except (UserError, ValidationError) as exc:
            _logger.info("trust funds not applied to %s: %s", self.name, exc)
            self.sudo().message_post(
                body=Markup("<p>%s</p>")
                % _(
                    "Trust funds of %(matter)s were not applied: %(reason)s",
                    matter=matter.display_name,
                    reason=exc.args[0],
                ),
            )
            return None
