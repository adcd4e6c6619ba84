# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

from werkzeug.urls import url_join

from odoo import _, api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import str2bool
from odoo.tools.misc import format_date, formatLang

from .. import utils

# Where a statement's Pay Now link leads: the client's billing portal (balance owed, open
# invoices and their payment).
BILLING_PORTAL_PATH = "/my/billing"


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
        currency = company.currency_id.with_context(lang=self.env.lang)
        return {
            "doc_ids": clients.ids,
            "doc_model": "res.partner",
            "docs": clients,
            "company": company,
            "today": fields.Date.context_today(self),
            "fmt_money": self._money_formatter(currency),
            "fmt_date": self._date_formatter(),
            "statements": {
                client.id: Statement._statement(client, company, date_from, date_to)
                for client in clients
            },
            "pay_now_by_client": {
                client.id: self._legal_pay_now_values(client, company) for client in clients
            },
        }

    @api.model
    def _legal_pay_now_values(self, client, company):
        """What the statement prints to pay the balance owed online, or False.

        The balance owed today (open invoices, as on the client's billing portal), a Pay Now
        link to the billing portal and its QR code: printed only when something is owed, portal
        payment is on, a published operating provider (enabled or in test mode) can take it,
        and the client has a login to the portal (the billing portal needs one).

        :param client: the commercial ``res.partner``
        :param company: ``res.company``
        :return: dict with ``url``, ``qr_src``, ``amount``, ``currency``; or False
        :rtype: dict | bool
        """
        currency = company.currency_id
        ICP = self.env["ir.config_parameter"].sudo()
        if not str2bool(ICP.get_param("account_payment.enable_portal_payment")):
            return False
        owed = (
            self.env["legal.billing.statement"]
            .sudo()
            ._billing_summary(client, company)["balance_owed"]
        )
        if currency.compare_amounts(owed, 0.0) <= 0:
            return False
        has_login = (
            self.env["res.users"]
            .sudo()
            .search_count([("partner_id.commercial_partner_id", "=", client.id)], limit=1)
        )
        if not has_login:
            return False
        if not self.env["payment.provider"]._legal_online_payment_possible(
            company, client, owed, currency
        ):
            return False
        url = url_join(client.get_base_url(), BILLING_PORTAL_PATH)
        return {
            "url": url,
            "qr_src": utils.pay_now_qr_src(url),
            "amount": owed,
            "currency": currency,
        }

    # Formatting once per statement: a year of a busy client has thousands of rows, and
    # Odoo's per-value helpers look the language up on every call.

    @api.model
    def _money_formatter(self, currency):
        """A function formatting amounts like ``formatLang`` with ``currency_obj``.

        :return: ``callable(float) -> str``
        """
        lang = self.env["res.lang"]._get_data(code=self.env.lang or "en_US")
        if lang.grouping not in ("[3,0]", "[3, 0]", "[3]"):
            return lambda amount: formatLang(self.env, amount, currency_obj=currency)
        digits = currency.decimal_places
        symbol = currency.symbol or ""
        after = currency.position == "after"
        decimal_point, thousands_sep = lang.decimal_point or ".", lang.thousands_sep or ""

        def fmt(amount):
            text = f"{currency.round(amount) + 0.0:,.{digits}f}"
            text = text.replace(",", "\x00").replace(".", decimal_point)
            text = text.replace("\x00", thousands_sep)
            if not symbol:
                return text
            return (
                f"{text}\N{NO-BREAK SPACE}{symbol}"
                if after
                else f"{symbol}\N{NO-BREAK SPACE}{text}"
            )

        return fmt

    @api.model
    def _date_formatter(self):
        """A function formatting dates like ``format_date`` in the user's language."""
        lang = self.env["res.lang"]._get_data(code=self.env.lang or "en_US")
        date_format = lang.date_format
        if not date_format or any(code in date_format for code in ("%a", "%A", "%b", "%B")):
            # Names of days and months: Babel's, in the user's language.
            return lambda date: format_date(self.env, date)
        return lambda date: date.strftime(date_format) if date else ""
