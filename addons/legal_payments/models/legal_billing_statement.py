# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What a client owes, has in credit and holds in trust: the billing portal and statements.

Everything is read with SQL aggregates over posted journal items, so that a client with
thousands of invoices and payments is answered in a few queries. What is owed comes from
the receivable account; trust money comes from the trust liability account of the
client's matters and is reported beside it, never netted against it.
"""

import base64
import logging

import psycopg2
from dateutil.relativedelta import relativedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..const import BILLING_HISTORY_KINDS, BILLING_RECEIVABLE_KINDS, BILLING_TRUST_KINDS

_logger = logging.getLogger(__name__)

STATEMENT_REPORT = "legal_payments.action_report_billing_statement"
STATEMENT_TEMPLATE = "legal_payments.mail_template_billing_statement"


class LegalBillingStatement(models.AbstractModel):
    _name = "legal.billing.statement"
    _description = "Client Billing Statement"

    # ------------------------------------------------------------------ periods
    @api.model
    def _previous_month(self, today=None):
        """The calendar month before ``today``.

        :return: ``(first_day, last_day)`` as dates
        """
        today = fields.Date.to_date(today) if today else fields.Date.context_today(self)
        first = today.replace(day=1) - relativedelta(months=1)
        return first, first + relativedelta(months=1, days=-1)

    @api.model
    def _check_period(self, date_from, date_to):
        """Validate a statement period.

        :return: ``(date_from, date_to)`` as dates
        :raise UserError: a missing or reversed period
        """
        try:
            date_from = fields.Date.to_date(date_from)
            date_to = fields.Date.to_date(date_to)
        except (TypeError, ValueError) as exc:
            raise UserError(_("The dates of the statement are not valid dates.")) from exc
        if not date_from or not date_to:
            raise UserError(_("A statement needs the first and the last day of its period."))
        if date_from > date_to:
            raise UserError(
                _(
                    "The statement period starts on %(start)s, after its end on %(end)s.",
                    start=date_from,
                    end=date_to,
                )
            )
        return date_from, date_to

    # ------------------------------------------------------------------ scope
    @api.model
    def _client_scope(self, partner, company):
        """The SQL pieces that select a client's items in a company.

        :param partner: ``res.partner``; its commercial partner is the client
        :param company: ``res.company``
        :return: dict with ``client`` (the commercial partner), ``partner_ids`` (the client and
            its contacts), ``receivable_ids`` (the company's receivable accounts),
            ``trust_account_id`` and ``matters`` (the client's matters in the company)
        """
        client = partner.commercial_partner_id.sudo()
        self.env["account.move.line"].flush_model()
        self.env["account.move"].flush_model()
        self.env["res.partner"].flush_model(["commercial_partner_id"])
        self.env.cr.execute(
            SQL(
                "SELECT id FROM res_partner WHERE commercial_partner_id = %s",
                client.id,
            )
        )
        partner_ids = [row[0] for row in self.env.cr.fetchall()] or [client.id]
        receivable_ids = (
            self.env["account.account"]
            .sudo()
            .with_context(active_test=False)
            .search(
                [
                    ("account_type", "=", "asset_receivable"),
                    ("company_ids", "in", company.id),
                ]
            )
            .ids
        )
        matters = (
            self.env["legal.matter"]
            .sudo()
            .search(
                [("commercial_partner_id", "=", client.id), ("company_id", "=", company.id)],
                order="name",
            )
        )
        return {
            "client": client,
            "company": company,
            "partner_ids": partner_ids,
            "receivable_ids": receivable_ids or [0],
            "trust_account_id": company.sudo().trust_liability_account_id.id or 0,
            "matters": matters,
        }

    # ------------------------------------------------------------------ summary
    @api.model
    def _billing_summary(self, partner, company, invoices_limit=5):
        """The figures at the top of ``/my/billing``.

        :param partner: the client (any of its contacts)
        :param company: the firm's company
        :return: dict with ``balance_owed`` (open invoices), ``credits_available``
            (unreconciled credit notes and payments), ``trust`` (one dict per matter:
            ``matter``, ``balance``, ``available``, ``uncleared``; never netted against what is
            owed), ``latest_invoices`` (``account.move``, sudo) and ``currency``
        """
        scope = self._client_scope(partner, company)
        self.env.cr.execute(
            SQL(
                """
                SELECT COALESCE(SUM(amount_residual) FILTER (WHERE amount_residual > 0), 0),
                       COALESCE(-SUM(amount_residual) FILTER (WHERE amount_residual < 0), 0)
                  FROM account_move_line
                 WHERE account_id = ANY(%s)
                   AND partner_id = ANY(%s)
                   AND company_id = %s
                   AND parent_state = 'posted'
                   AND reconciled IS NOT TRUE
                """,
                scope["receivable_ids"],
                scope["partner_ids"],
                company.id,
            )
        )
        owed, credit = self.env.cr.fetchone()
        currency = company.currency_id
        figures = scope["matters"]._trust_figures()
        trust = []
        for matter in scope["matters"]:
            balance, uncleared = figures.get(matter.id, (0.0, 0.0))
            if matter.state == "closed" and currency.is_zero(balance):
                continue
            trust.append(
                {
                    "matter": matter,
                    "balance": currency.round(balance),
                    "uncleared": currency.round(uncleared),
                    "available": currency.round(balance - uncleared),
                }
            )
        latest = (
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("commercial_partner_id", "=", scope["client"].id),
                    ("company_id", "=", company.id),
                    ("move_type", "=", "out_invoice"),
                    ("state", "=", "posted"),
                ],
                order="invoice_date desc, id desc",
                limit=invoices_limit,
            )
        )
        return {
            "client": scope["client"],
            "company": company,
            "currency": currency,
            "balance_owed": currency.round(owed),
            "credits_available": currency.round(credit),
            "trust": trust,
            "latest_invoices": latest,
        }

    # ------------------------------------------------------------------ history
    @api.model
    def _history_rows_sql(self, scope, kind=None, date_from=None, date_to=None, matter=None):
        """The client's transactions as one SQL row source.

        Columns: ``kind``, ``move_id``, ``date``, ``amount``, ``matter_id``. Receivable
        movements give one row per journal entry (``amount`` is what it adds to the balance
        owed: invoices and refunds positive, payments and credit notes negative); trust
        movements give one row per ledger item (``amount`` is what it adds to the matter's
        trust balance).
        """
        receivable = SQL(
            """
            SELECT CASE WHEN am.move_type IN ('out_invoice', 'out_receipt') THEN 'invoice'
                        WHEN am.move_type = 'out_refund' THEN 'credit_note'
                        WHEN SUM(aml.balance) < 0 THEN 'payment'
                        ELSE 'refund' END AS kind,
                   aml.move_id AS move_id,
                   MIN(aml.date) AS date,
                   SUM(aml.balance) AS amount,
                   am.matter_id AS matter_id
              FROM account_move_line aml
              JOIN account_move am ON am.id = aml.move_id
             WHERE aml.account_id = ANY(%(receivable)s)
               AND aml.partner_id = ANY(%(partners)s)
               AND aml.company_id = %(company)s
               AND aml.parent_state = 'posted'
               %(date_from)s %(date_to)s
          GROUP BY aml.move_id, am.move_type, am.matter_id
            """,
            receivable=scope["receivable_ids"],
            partners=scope["partner_ids"],
            company=scope["company"].id,
            date_from=SQL("AND aml.date >= %s", date_from) if date_from else SQL(),
            date_to=SQL("AND aml.date <= %s", date_to) if date_to else SQL(),
        )
        trust = SQL(
            """
            SELECT CASE WHEN EXISTS (
                            SELECT 1 FROM account_move_line other
                             WHERE other.move_id = aml.move_id
                               AND other.account_id = aml.account_id
                               AND other.id <> aml.id)
                        THEN 'trust_transfer'
                        WHEN aml.balance < 0 THEN 'trust_deposit'
                        ELSE 'trust_disbursement' END AS kind,
                   aml.move_id AS move_id,
                   aml.date AS date,
                   -aml.balance AS amount,
                   aml.matter_id AS matter_id
              FROM account_move_line aml
             WHERE aml.matter_id = ANY(%(matters)s)
               AND aml.account_id = %(account)s
               AND aml.parent_state = 'posted'
               %(date_from)s %(date_to)s
            """,
            matters=scope["matters"].ids or [0],
            account=scope["trust_account_id"],
            date_from=SQL("AND aml.date >= %s", date_from) if date_from else SQL(),
            date_to=SQL("AND aml.date <= %s", date_to) if date_to else SQL(),
        )
        parts = []
        if not kind or kind in BILLING_RECEIVABLE_KINDS:
            parts.append(receivable)
        if not kind or kind in BILLING_TRUST_KINDS:
            parts.append(trust)
        rows = SQL(" UNION ALL ").join(SQL("(%s)", part) for part in parts)
        conditions = [SQL("TRUE")]
        if kind:
            conditions.append(SQL("rows.kind = %s", kind))
        if matter:
            conditions.append(SQL("rows.matter_id = %s", matter.id))
        return SQL("(SELECT * FROM (%s) rows WHERE %s)", rows, SQL(" AND ").join(conditions))

    @api.model
    def _billing_history(
        self,
        partner,
        company,
        kind=None,
        date_from=None,
        date_to=None,
        matter=None,
        limit=20,
        offset=0,
    ):
        """One page of the client's transaction history, newest first.

        :param partner: the client (any of its contacts)
        :param company: the firm's company
        :param str kind: one of :data:`BILLING_HISTORY_KINDS` keys, or None for all
        :param date_from: first day, or None
        :param date_to: last day, or None
        :param matter: a ``legal.matter`` of this client, or an empty recordset
        :param int limit: rows per page
        :param int offset: rows skipped
        :return: dict with ``total`` (rows matching the filters) and ``rows`` (dicts: ``kind``,
            ``kind_label``, ``date``, ``reference``, ``memo``, ``amount``, ``matter``,
            ``move_id``, ``is_trust``)
        :raise UserError: an unknown type, a reversed date range, or another client's matter
        """
        if kind and kind not in BILLING_HISTORY_KINDS:
            raise UserError(_("Unknown type of transaction: %s.", kind))
        date_from = fields.Date.to_date(date_from) if date_from else None
        date_to = fields.Date.to_date(date_to) if date_to else None
        if date_from and date_to and date_from > date_to:
            raise UserError(_("The date range starts after it ends."))
        scope = self._client_scope(partner, company)
        if matter and matter not in scope["matters"]:
            raise UserError(_("This matter is not one of the client's matters."))
        rows = self._history_rows_sql(scope, kind, date_from, date_to, matter)
        self.env.cr.execute(SQL("SELECT COUNT(*) FROM %s counted", rows))
        total = self.env.cr.fetchone()[0]
        self.env.cr.execute(
            SQL(
                """
                SELECT page.kind, page.date, am.name, COALESCE(am.ref, am.invoice_origin, ''),
                       page.amount, page.matter_id, page.move_id
                  FROM (SELECT * FROM %s listed
                      ORDER BY listed.date DESC, listed.move_id DESC, listed.kind
                         LIMIT %s OFFSET %s) page
                  JOIN account_move am ON am.id = page.move_id
              ORDER BY page.date DESC, page.move_id DESC, page.kind
                """,
                rows,
                limit,
                offset,
            )
        )
        fetched = self.env.cr.fetchall()
        labels = dict(self._history_kind_selection())
        matters = {matter.id: matter for matter in scope["matters"]}
        currency = company.currency_id
        result = []
        for kind_, date, reference, memo, amount, matter_id, move_id in fetched:
            result.append(
                {
                    "kind": kind_,
                    "kind_label": labels[kind_],
                    "date": date,
                    "reference": reference,
                    "memo": memo,
                    "amount": currency.round(amount),
                    "matter": matters.get(matter_id, self.env["legal.matter"]),
                    "move_id": move_id,
                    "is_trust": kind_ in BILLING_TRUST_KINDS,
                }
            )
        return {"total": total, "rows": result}

    @api.model
    def _history_kind_selection(self):
        """The types of transaction a client can filter on, with their translated labels."""
        return [
            ("invoice", _("Invoice")),
            ("payment", _("Payment")),
            ("credit_note", _("Credit note")),
            ("refund", _("Refund")),
            ("trust_deposit", _("Trust deposit")),
            ("trust_disbursement", _("Trust disbursement")),
            ("trust_transfer", _("Trust transfer")),
        ]

    # ------------------------------------------------------------------ statement
    @api.model
    def _statement(self, partner, company, date_from, date_to):
        """The statement of account of a client for a period.

        The account section is the client's receivable: the opening balance (posted items
        before the period), the period's invoices, payments, credit notes and refunds in date
        order with a running balance, and the closing balance. The trust section lists each
        matter's trust ledger for the period (opening, deposits, disbursements, transfers,
        closing); it is never added to or subtracted from what is owed.

        :param partner: the client (any of its contacts)
        :param company: the firm's company
        :return: dict (see the keys below)
        :raise UserError: a missing or reversed period
        """
        date_from, date_to = self._check_period(date_from, date_to)
        scope = self._client_scope(partner, company)
        currency = company.currency_id
        self.env.cr.execute(
            SQL(
                """
                SELECT COALESCE(SUM(balance), 0)
                  FROM account_move_line
                 WHERE account_id = ANY(%s)
                   AND partner_id = ANY(%s)
                   AND company_id = %s
                   AND parent_state = 'posted'
                   AND date < %s
                """,
                scope["receivable_ids"],
                scope["partner_ids"],
                company.id,
                date_from,
            )
        )
        opening = currency.round(self.env.cr.fetchone()[0])
        rows = self._history_rows_sql(
            dict(scope, matters=self.env["legal.matter"]),
            date_from=date_from,
            date_to=date_to,
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT rows.kind, rows.date, am.name,
                       COALESCE(am.ref, am.invoice_origin, ''), rows.amount, rows.move_id
                  FROM %s rows
                  JOIN account_move am ON am.id = rows.move_id
                 WHERE rows.kind <> 'trust_deposit'
                   AND rows.kind <> 'trust_disbursement'
                   AND rows.kind <> 'trust_transfer'
              ORDER BY rows.date, rows.move_id
                """,
                rows,
            )
        )
        fetched = self.env.cr.fetchall()
        labels = dict(self._history_kind_selection())
        totals = dict.fromkeys(BILLING_RECEIVABLE_KINDS, 0.0)
        running = opening
        lines = []
        for kind, date, reference, memo, amount, move_id in fetched:
            running = currency.round(running + amount)
            totals[kind] = currency.round(totals[kind] + abs(amount))
            lines.append(
                {
                    "kind": kind,
                    "kind_label": labels[kind],
                    "date": date,
                    "reference": reference,
                    "memo": memo,
                    "charge": currency.round(amount) if amount > 0 else 0.0,
                    "credit": currency.round(-amount) if amount < 0 else 0.0,
                    "balance": running,
                    "move_id": move_id,
                }
            )
        return {
            "client": scope["client"],
            "company": company,
            "currency": currency,
            "date_from": date_from,
            "date_to": date_to,
            "opening": opening,
            "lines": lines,
            "invoices": totals["invoice"],
            "payments": totals["payment"],
            "credit_notes": totals["credit_note"],
            "refunds": totals["refund"],
            "closing": running,
            "trust": self._statement_trust(scope, date_from, date_to),
        }

    @api.model
    def _statement_trust(self, scope, date_from, date_to):
        """The trust section of a statement: one ledger per matter with activity or money.

        :return: list of dicts with ``matter``, ``opening``, ``deposits``, ``disbursements``,
            ``transfers`` (net, in minus out), ``closing`` and ``lines`` (``kind``,
            ``kind_label``, ``date``, ``reference``, ``memo``, ``amount``, ``balance``)
        """
        matters = scope["matters"]
        if not matters or not scope["trust_account_id"]:
            return []
        currency = scope["company"].currency_id
        openings = matters._trust_figures(date_from - relativedelta(days=1))
        rows = self._history_rows_sql(
            dict(scope, receivable_ids=[0]),
            date_from=date_from,
            date_to=date_to,
        )
        self.env.cr.execute(
            SQL(
                """
                SELECT rows.matter_id, rows.kind, rows.date, am.name,
                       COALESCE(am.ref, ''), rows.amount
                  FROM %s rows
                  JOIN account_move am ON am.id = rows.move_id
                 WHERE rows.matter_id IS NOT NULL
                   AND rows.kind IN ('trust_deposit', 'trust_disbursement', 'trust_transfer')
              ORDER BY rows.date, rows.move_id
                """,
                rows,
            )
        )
        by_matter = {}
        for matter_id, kind, date, reference, memo, amount in self.env.cr.fetchall():
            by_matter.setdefault(matter_id, []).append((kind, date, reference, memo, amount))
        labels = dict(self._history_kind_selection())
        sections = []
        for matter in matters:
            opening = currency.round(openings.get(matter.id, (0.0, 0.0))[0])
            movements = by_matter.get(matter.id, [])
            if not movements and currency.is_zero(opening):
                continue
            section = {
                "matter": matter,
                "opening": opening,
                "deposits": 0.0,
                "disbursements": 0.0,
                "transfers": 0.0,
                "lines": [],
            }
            running = opening
            for kind, date, reference, memo, amount in movements:
                running = currency.round(running + amount)
                if kind == "trust_deposit":
                    section["deposits"] = currency.round(section["deposits"] + amount)
                elif kind == "trust_disbursement":
                    section["disbursements"] = currency.round(section["disbursements"] - amount)
                else:
                    section["transfers"] = currency.round(section["transfers"] + amount)
                section["lines"].append(
                    {
                        "kind": kind,
                        "kind_label": labels[kind],
                        "date": date,
                        "reference": reference,
                        "memo": memo,
                        "amount": currency.round(amount),
                        "balance": running,
                    }
                )
            section["closing"] = running
            sections.append(section)
        return sections

    # ------------------------------------------------------------------ PDF and e-mail
    @api.model
    def _statement_report_data(self, company, date_from, date_to):
        """The ``data`` of the statement report for a period (JSON-serialisable)."""
        date_from, date_to = self._check_period(date_from, date_to)
        return {
            "company_id": company.id,
            "date_from": fields.Date.to_string(date_from),
            "date_to": fields.Date.to_string(date_to),
        }

    @api.model
    def _render_statement_pdf(self, partner, company, date_from, date_to):
        """Render the client's statement of a period as a PDF.

        :return: ``(content, filename)``
        :raise UserError: a missing or reversed period
        """
        client = partner.commercial_partner_id
        data = self._statement_report_data(company, date_from, date_to)
        content, report_type = (
            self.env["ir.actions.report"]
            .sudo()
            .with_company(company)
            ._render_qweb_pdf(STATEMENT_REPORT, client.ids, data=data)
        )
        filename = _(
            "Statement %(client)s %(start)s %(end)s",
            client=client.name,
            start=data["date_from"],
            end=data["date_to"],
        )
        return content, f"{filename}.{report_type}"

    @api.model
    def _statement_recipient(self, partner):
        """Who receives the client's statements: its invoice address.

        :raise UserError: when that contact has no e-mail address
        """
        client = partner.commercial_partner_id
        recipient = self.env["res.partner"].browse(client.address_get(["invoice"])["invoice"])
        if not recipient.email:
            raise UserError(
                _(
                    "%s has no e-mail address to send statements to: add one on the client "
                    "or its invoice address.",
                    client.display_name,
                )
            )
        return recipient

    @api.model
    def _queue_statement_mail(
        self, partner, company, date_from, date_to, kind, recipient=None, sent=None
    ):
        """Queue one e-mail with the client's statement of a period, the PDF attached.

        The e-mail goes through the mail queue (``mail.mail``, sent by Odoo's mail cron), and
        the sending is recorded on ``legal.billing.statement.sent``.

        :param partner: the client (any of its contacts)
        :param company: the firm's company
        :param str kind: ``monthly``, ``batch`` or ``portal``
        :param recipient: ``res.partner`` receiving it (default: the client's invoice address)
        :param sent: the ``legal.billing.statement.sent`` record already inserted for it
            (monthly statements), else one is created
        :return: the ``legal.billing.statement.sent`` record
        :raise UserError: no e-mail address, a missing or reversed period
        """
        client = partner.commercial_partner_id.sudo()
        date_from, date_to = self._check_period(date_from, date_to)
        recipient = recipient or self._statement_recipient(client)
        if not recipient.email:
            raise UserError(_("%s has no e-mail address.", recipient.display_name))
        content, filename = self._render_statement_pdf(client, company, date_from, date_to)
        template = self.env.ref(STATEMENT_TEMPLATE).sudo()
        lang = recipient.lang or client.lang or self.env.lang
        mail = (
            template.with_company(company)
            .with_context(
                lang=lang,
                statement_date_from=date_from,
                statement_date_to=date_to,
                statement_company_name=company.name,
                statement_email_from=company.email_formatted,
            )
            .send_mail_batch(
                client.ids,
                force_send=False,
                email_values={
                    "recipient_ids": [fields.Command.set(recipient.ids)],
                    "attachments": [(filename, base64.b64encode(content))],
                },
                email_layout_xmlid="mail.mail_notification_light",
            )
        )
        if sent:
            sent.sudo().write({"mail_id": mail.id, "email_to": recipient.email})
            return sent
        return (
            self.env["legal.billing.statement.sent"]
            .sudo()
            .create(
                {
                    "partner_id": client.id,
                    "company_id": company.id,
                    "date_from": date_from,
                    "date_to": date_to,
                    "kind": kind,
                    "mail_id": mail.id,
                    "email_to": recipient.email,
                }
            )
        )

    @api.model
    def _send_batch_statements(self, partners, company, date_from, date_to):
        """Queue the statement of each client (one e-mail per client) for a period.

        Checks every client first: when one has no e-mail address, nothing is queued.

        :return: the ``legal.billing.statement.sent`` records
        :raise UserError: no client, a client without e-mail address, a bad period
        """
        date_from, date_to = self._check_period(date_from, date_to)
        clients = partners.commercial_partner_id
        if not clients:
            raise UserError(_("Choose the clients to send statements to."))
        missing = clients.filtered(
            lambda c: not self.env["res.partner"]
            .browse(c.address_get(["invoice"])["invoice"])
            .email
        )
        if missing:
            raise UserError(
                _(
                    "No statement was sent: these clients have no e-mail address for "
                    "statements: %s.",
                    ", ".join(missing.mapped("display_name")),
                )
            )
        sent = self.env["legal.billing.statement.sent"]
        for client in clients:
            sent |= self._queue_statement_mail(client, company, date_from, date_to, "batch")
        return sent

    @api.model
    def _cron_send_monthly_statements(self, today=None):
        """Queue last month's statement for every client with "Monthly statement" ticked.

        Idempotent: the ``(client, company, month)`` row is inserted first (unique index,
        ``ON CONFLICT DO NOTHING``) and the e-mail is queued only when it is new; a second
        run, even at the same time, sends nothing more. A client without e-mail address is
        skipped and logged.

        :return: the ``legal.billing.statement.sent`` records created by this run
        """
        date_from, date_to = self._previous_month(today)
        Sent = self.env["legal.billing.statement.sent"].sudo()
        sent = Sent
        clients = (
            self.env["res.partner"]
            .sudo()
            .search([("legal_monthly_statement", "=", True)])
            .commercial_partner_id.filtered("legal_monthly_statement")
        )
        for company in self.env["res.company"].sudo().search([]):
            for client in clients.filtered(
                lambda c, co=company: not c.company_id or c.company_id == co
            ):
                already = Sent.search_count(
                    [
                        ("partner_id", "=", client.id),
                        ("company_id", "=", company.id),
                        ("date_from", "=", date_from),
                        ("date_to", "=", date_to),
                        ("kind", "=", "monthly"),
                    ],
                    limit=1,
                )
                if already or not self._has_billing_activity(client, company, date_to):
                    continue
                try:
                    recipient = self._statement_recipient(client)
                except UserError as exc:
                    _logger.warning("Monthly statement of %s not sent: %s", client.id, exc)
                    continue
                Sent.flush_model()
                try:
                    with self.env.cr.savepoint(flush=False):
                        row = self._insert_monthly_sent(
                            client, company, date_from, date_to, recipient
                        )
                except psycopg2.errors.SerializationFailure:
                    # Another run inserted the same month concurrently: it sends it.
                    row = None
                if not row:
                    continue
                sent |= self._queue_statement_mail(
                    client, company, date_from, date_to, "monthly", recipient, Sent.browse(row[0])
                )
        return sent

    @api.model
    def _insert_monthly_sent(self, client, company, date_from, date_to, recipient):
        """Insert the monthly row of (client, company, month) unless it exists.

        :return: ``(id,)`` when inserted, else None
        """
        self.env.cr.execute(
            SQL(
                """
                        INSERT INTO legal_billing_statement_sent
                               (partner_id, company_id, date_from, date_to, kind, email_to,
                                create_uid, create_date, write_uid, write_date)
                        VALUES (%s, %s, %s, %s, 'monthly', %s,
                                %s, NOW() AT TIME ZONE 'UTC', %s, NOW() AT TIME ZONE 'UTC')
                   ON CONFLICT (partner_id, company_id, date_from, date_to)
                         WHERE kind = 'monthly' DO NOTHING
                     RETURNING id
                        """,
                client.id,
                company.id,
                date_from,
                date_to,
                recipient.email,
                self.env.uid,
                self.env.uid,
            )
        )
        return self.env.cr.fetchone()

    @api.model
    def _has_billing_activity(self, partner, company, date_to):
        """Whether the client has any posted receivable or trust item in the company up to
        ``date_to`` (no statement is sent for a company the client never dealt with)."""
        scope = self._client_scope(partner, company)
        self.env.cr.execute(
            SQL(
                """
                SELECT 1 FROM account_move_line
                 WHERE parent_state = 'posted' AND date <= %s
                   AND ((account_id = ANY(%s) AND partner_id = ANY(%s) AND company_id = %s)
                        OR (matter_id = ANY(%s) AND account_id = %s))
                 LIMIT 1
                """,
                date_to,
                scope["receivable_ids"],
                scope["partner_ids"],
                company.id,
                scope["matters"].ids or [0],
                scope["trust_account_id"],
            )
        )
        return bool(self.env.cr.fetchone())
