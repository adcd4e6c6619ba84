# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The client billing portal: balance, credits, trust, history and statements.

Every route works on the logged-in user's own client (its commercial partner) and never on
an id taken from the request; the figures are read in sudo, restricted to that client.
"""

from urllib.parse import urlencode

from odoo import fields, http
from odoo.exceptions import UserError
from odoo.http import content_disposition, request

from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager

from ..const import BILLING_HISTORY_PAGE_SIZE


class LegalBillingPortal(CustomerPortal):
    # === Helpers === #

    @staticmethod
    def _legal_billing_context():
        """The logged-in client, the company and the statement model (sudo)."""
        return (
            request.env.user.partner_id.commercial_partner_id,
            request.env.company,
            request.env["legal.billing.statement"].sudo(),
        )

    @staticmethod
    def _legal_parse_date(value):
        try:
            return fields.Date.to_date(value) if value else None
        except ValueError:
            return None

    @staticmethod
    def _legal_count_statement_request(client):
        """Count a statement request of the client; False when over the rate limit."""
        try:
            request.env["legal.portal.request"]._legal_check_and_count(client)
        except UserError:
            return False
        return True

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "legal_billing_count" in counters:
            client, company, Statement = self._legal_billing_context()
            today = fields.Date.context_today(Statement)
            values["legal_billing_count"] = int(
                Statement._has_billing_activity(client, company, today)
            )
        return values

    # === Routes === #

    @http.route("/my/billing", type="http", auth="user", website=True)
    def portal_my_billing(self, error=None, sent=None, **kw):
        """Balance owed, credits, trust per matter, latest invoices, statement download."""
        client, company, Statement = self._legal_billing_context()
        date_from, date_to = Statement._previous_month()
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "summary": Statement._billing_summary(client, company),
                "next_instalment": request.env["legal.payment.plan.instalment"]
                .sudo()
                ._legal_next_for_client(client, company),
                "page_name": "legal_billing",
                "statement_date_from": date_from,
                "statement_date_to": fields.Date.context_today(Statement),
                "statement_error": error,
                "statement_sent": sent,
            }
        )
        return request.render("legal_payments.portal_my_billing", values)

    @http.route(
        ["/my/billing/history", "/my/billing/history/page/<int:page>"],
        type="http",
        auth="user",
        website=True,
    )
    def portal_my_billing_history(
        self, page=1, kind=None, date_from=None, date_to=None, matter=None, **kw
    ):
        """The transaction history with its filters (type, dates, matter) and pager."""
        client, company, Statement = self._legal_billing_context()
        filters = {
            "kind": kind or "",
            "date_from": self._legal_parse_date(date_from),
            "date_to": self._legal_parse_date(date_to),
            "matter": request.env["legal.matter"].sudo().browse(self._cast_as_int(matter)),
        }
        url_args = {
            "kind": filters["kind"],
            "date_from": filters["date_from"] or "",
            "date_to": filters["date_to"] or "",
            "matter": filters["matter"].id or "",
        }
        error = None
        try:
            history = Statement._billing_history(
                client,
                company,
                kind=filters["kind"] or None,
                date_from=filters["date_from"],
                date_to=filters["date_to"],
                matter=filters["matter"],
                limit=BILLING_HISTORY_PAGE_SIZE,
                offset=(max(page, 1) - 1) * BILLING_HISTORY_PAGE_SIZE,
            )
        except UserError as exc:
            error = exc.args[0]
            history = {"total": 0, "rows": []}
        pager = portal_pager(
            url="/my/billing/history",
            url_args={k: v for k, v in url_args.items() if v},
            total=history["total"],
            page=page,
            step=BILLING_HISTORY_PAGE_SIZE,
        )
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "history": history,
                "pager": pager,
                "filters": filters,
                "kinds": Statement._history_kind_selection(),
                "matters": Statement._client_scope(client, company)["matters"],
                "currency": company.currency_id,
                "history_error": error,
                "page_name": "legal_billing_history",
            }
        )
        return request.render("legal_payments.portal_my_billing_history", values)

    @http.route(
        "/my/billing/statement", type="http", auth="user", methods=["GET", "POST"], website=True
    )
    def portal_my_billing_statement(self, date_from=None, date_to=None, **kw):
        """Download the client's statement of account for a period, as a PDF (rate-limited per
        client)."""
        client, company, Statement = self._legal_billing_context()
        if not self._legal_count_statement_request(client):
            return request.redirect("/my/billing?" + urlencode({"error": "rate"}))
        try:
            content, filename = Statement._render_statement_pdf(client, company, date_from, date_to)
        except UserError:
            return request.redirect("/my/billing?" + urlencode({"error": "period"}))
        mimetype = "application/pdf" if filename.endswith(".pdf") else "text/html"
        return request.make_response(
            content,
            headers=[
                ("Content-Type", mimetype),
                ("Content-Length", len(content)),
                ("Content-Disposition", content_disposition(filename)),
            ],
        )

    @http.route(
        "/my/billing/statement/send", type="http", auth="user", methods=["POST"], website=True
    )
    def portal_my_billing_statement_send(self, date_from=None, date_to=None, **kw):
        """ "E-mail me this statement": queue it to the logged-in user's own address
        (rate-limited per client)."""
        client, company, Statement = self._legal_billing_context()
        if not self._legal_count_statement_request(client):
            return request.redirect("/my/billing?" + urlencode({"error": "rate"}))
        try:
            Statement._queue_statement_mail(
                client,
                company,
                date_from,
                date_to,
                "portal",
                recipient=request.env.user.partner_id.sudo(),
            )
        except UserError:
            return request.redirect("/my/billing?" + urlencode({"error": "send"}))
        return request.redirect("/my/billing?" + urlencode({"sent": 1}))
