from odoo import _, api, fields, models
from odoo.exceptions import UserError


class LegalRetainerRequestWizard(models.TransientModel):
    """ "Create online": the remaining initial retainer, or any amount the user enters."""

    _name = "legal.retainer.request.wizard"
    _description = "Create Retainer Request Online"

    matter_id = fields.Many2one("legal.matter", required=True)
    currency_id = fields.Many2one(related="matter_id.currency_id")
    mode = fields.Selection(
        [("initial", "Initial retainer (what remains of it)"), ("other", "Another amount")],
        required=True,
        default="initial",
    )
    initial_remaining = fields.Monetary(compute="_compute_initial_remaining")
    amount = fields.Monetary()
    due_date = fields.Date(help="The date by which the client is asked to pay (optional).")

    @api.depends("matter_id")
    def _compute_initial_remaining(self):
        for wizard in self:
            matter = wizard.matter_id
            open_initial = matter.retainer_request_ids.filtered(
                lambda r: r.kind == "initial" and r.state in ("draft", "sent", "partial")
            )
            wizard.initial_remaining = (
                sum(open_initial.mapped("amount_due"))
                if open_initial
                else max(matter.retainer_initial_amount - matter.retainer_initial_paid, 0.0)
            )

    def action_create(self):
        self.ensure_one()
        if self.mode == "other" and self.currency_id.compare_amounts(self.amount, 0) <= 0:
            raise UserError(_("Enter the amount to request."))
        request = self.matter_id.action_request_retainer(
            amount=self.amount if self.mode == "other" else None, due_date=self.due_date
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Retainer Request"),
            "res_model": "legal.retainer.request",
            "view_mode": "form",
            "res_id": request.id,
        }
