# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools.misc import format_date, formatLang


class ReportLegalBillingStatement(models.AbstractModel):
    _name = "report.legal_payments.report_billing_statement"
    _description = "Statement of Account Report"

    @api.model
    def _get_report_values(self, docids, data=None):
        """The statements of the clients ``docids`` for the period in ``data``.

        Printed by billing and accounting users from the client form (default period: the
        previous calendar month), or rendered in sudo for a client's own portal request.

        :param list docids: ``res.partner`` ids (their commercial partners are the clients)
        :param dict data: ``date_from``, ``date_to``, ``company_id`` (all optional)
        :raise AccessError: for anyone else
        :raise UserError: a reversed period
        """
        user = self.env.user
        if not self.env.su and not (
            user.has_group("account.group_account_invoice")
            or user.has_group("account.group_account_readonly")
        ):
            raise AccessError(_("Only billing and accounting users may print statements."))
        data = data or {}
        Statement = self.env["legal.billing.statement"]
        company = self.env["res.company"].browse(data.get("company_id")).exists()
        if not company or company not in self.env.companies:
            company = self.env.company
        if data.get("date_from") and data.get("date_to"):
            date_from, date_to = Statement._check_period(data["date_from"], data["date_to"])
        else:
            date_from, date_to = Statement._previous_month()
        partners = self.env["res.partner"].browse(docids)
        partners.check_access("read")
        clients = partners.commercial_partner_id
        currency = company.currency_id
        return {
            "doc_ids": clients.ids,
            "doc_model": "res.partner",
            "docs": clients,
            "company": company,
            "today": fields.Date.context_today(self),
            # Plain formatting: thousands of rows print faster than with the QWeb widgets.
            "fmt_money": lambda amount: formatLang(self.env, amount, currency_obj=currency),
            "fmt_date": lambda date: format_date(self.env, date),
            "statements": {
                client.id: Statement._statement(client, company, date_from, date_to)
                for client in clients
            },
        }
