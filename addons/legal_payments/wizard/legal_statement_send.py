# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, api, fields, models


class LegalStatementSend(models.TransientModel):
    """Send statements of account to the selected clients, one e-mail each, via the queue."""

    _name = "legal.statement.send"
    _description = "Send Statements of Account"
    _check_company_auto = True

    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company
    )
    partner_ids = fields.Many2many(
        "res.partner",
        string="Clients",
        required=True,
        default=lambda self: self._default_partner_ids(),
    )
    date_from = fields.Date(
        string="From",
        required=True,
        default=lambda self: self.env["legal.billing.statement"]._previous_month()[0],
    )
    date_to = fields.Date(
        string="To",
        required=True,
        default=lambda self: self.env["legal.billing.statement"]._previous_month()[1],
    )

    @api.model
    def _default_partner_ids(self):
        if self.env.context.get("active_model") != "res.partner":
            return []
        return self.env["res.partner"].browse(self.env.context.get("active_ids") or []).ids

    def action_send(self):
        """Queue one statement e-mail per client (PDF attached), then say how many.

        :raise UserError: a reversed period, or a client without e-mail address (then
            nothing is queued)
        """
        self.ensure_one()
        sent = self.env["legal.billing.statement"]._send_batch_statements(
            self.partner_ids, self.company_id, self.date_from, self.date_to
        )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": _(
                    "%s statements of account are queued for sending.",
                    len(sent),
                ),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_print(self):
        """Print the statements of the period (one PDF, one client after the other)."""
        self.ensure_one()
        data = self.env["legal.billing.statement"]._statement_report_data(
            self.company_id, self.date_from, self.date_to
        )
        return self.env.ref("legal_payments.action_report_billing_statement").report_action(
            self.partner_ids.commercial_partner_id, data=data
        )
