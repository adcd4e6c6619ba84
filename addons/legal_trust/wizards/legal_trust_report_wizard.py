from odoo import _, fields, models
from odoo.exceptions import UserError


class LegalTrustReportWizard(models.TransientModel):
    _name = "legal.trust.report.wizard"
    _description = "Trust Reports"

    report = fields.Selection(
        [("ledger", "Client Trust Ledger"), ("balances", "Trust Balances of All Matters")],
        required=True,
        default="ledger",
    )
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    matter_ids = fields.Many2many("legal.matter", string="Matters")
    date_from = fields.Date()
    date_to = fields.Date(default=fields.Date.context_today)

    def _report_data(self):
        self.ensure_one()
        if self.report == "ledger" and not self.matter_ids:
            raise UserError(_("Choose the matters whose trust ledger you want."))
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise UserError(_("The start date must be before the end date."))
        return {
            "report": self.report,
            "matter_ids": self.matter_ids.ids,
            "company_id": self.company_id.id,
            "date_from": fields.Date.to_string(self.date_from) if self.date_from else False,
            "date_to": fields.Date.to_string(self.date_to or fields.Date.context_today(self)),
        }

    def _action(self, report_type):
        data = self._report_data()
        xmlid = (
            "legal_trust.action_report_trust_ledger"
            if self.report == "ledger"
            else "legal_trust.action_report_trust_balances"
        )
        action = self.env.ref(xmlid).report_action(
            self.matter_ids if self.report == "ledger" else None, data=data
        )
        action["report_type"] = report_type
        return action

    def action_print(self):
        return self._action("qweb-pdf")

    def action_view(self):
        return self._action("qweb-html")
