# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import base64
import threading

from dateutil.relativedelta import relativedelta

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError, UserError
from odoo.fields import Command
from odoo.tests import TransactionCase, tagged
from odoo.tools.misc import format_date, formatLang

from .billing_common import LegalBillingCommon


@tagged("post_install", "-at_install")
class TestBillingStatement(LegalBillingCommon):
    def _statement(self, partner=None, date_from=None, date_to=None):
        return self.env["legal.billing.statement"]._statement(
            partner or self.contact_a,
            self.company,
            date_from or self.date_from,
            date_to or self.date_to,
        )

    def test_statement_opening_plus_movements_equals_closing(self):
        statement = self._statement()
        self.assertEqual(
            statement["client"], self.client_a, "a contact's statement is its client's"
        )
        self.assertAlmostEqual(statement["opening"], 600.0, msg="1,000 invoiced, 400 paid before")
        self.assertEqual(
            [(line["kind"], line["charge"], line["credit"]) for line in statement["lines"]],
            [
                ("invoice", 700.0, 0.0),
                ("payment", 0.0, 300.0),
                ("credit_note", 0.0, 200.0),
                ("refund", 50.0, 0.0),
            ],
            "the period's movements in date order, nothing of client B nor of today",
        )
        self.assertEqual(
            [line["balance"] for line in statement["lines"]], [1300.0, 1000.0, 800.0, 850.0]
        )
        self.assertEqual(
            (
                statement["invoices"],
                statement["payments"],
                statement["credit_notes"],
                statement["refunds"],
            ),
            (700.0, 300.0, 200.0, 50.0),
        )
        self.assertAlmostEqual(
            statement["opening"]
            + statement["invoices"]
            - statement["payments"]
            - statement["credit_notes"]
            + statement["refunds"],
            statement["closing"],
        )
        self.assertAlmostEqual(statement["closing"], 850.0)
        # The closing balance is the next period's opening balance.
        following = self._statement(date_from=self._day(0), date_to=self._day(0))
        self.assertAlmostEqual(following["opening"], statement["closing"])
        self.assertAlmostEqual(following["closing"], 950.0, msg="today's invoice of 100")

    def test_trust_section_is_per_matter_and_never_netted(self):
        statement = self._statement()
        trust = {section["matter"]: section for section in statement["trust"]}
        self.assertEqual(set(trust), {self.matter_a, self.matter_a2}, "never client B's matter")
        main, lease = trust[self.matter_a], trust[self.matter_a2]
        self.assertEqual(
            (main["opening"], main["deposits"], main["disbursements"], main["transfers"]),
            (5000.0, 0.0, 1200.0, -500.0),
        )
        self.assertEqual(main["closing"], 3300.0)
        self.assertEqual(
            (lease["opening"], lease["deposits"], lease["disbursements"], lease["transfers"]),
            (0.0, 300.0, 0.0, 500.0),
        )
        self.assertEqual(lease["closing"], 800.0)
        for matter, section in trust.items():
            self.assertAlmostEqual(
                section["opening"]
                + section["deposits"]
                - section["disbursements"]
                + section["transfers"],
                section["closing"],
            )
            self.assertAlmostEqual(
                section["closing"],
                matter._trust_figures(self.date_to)[matter.id][0],
                msg="the trust ledger's own balance at the end of the period",
            )
        self.assertEqual(
            [line["kind"] for line in main["lines"]], ["trust_disbursement", "trust_transfer"]
        )
        self.assertAlmostEqual(statement["closing"], 850.0, msg="trust money not deducted")

    def test_summary_balance_credits_trust_and_latest_invoices(self):
        summary = self.env["legal.billing.statement"]._billing_summary(self.contact_a, self.company)
        self.assertAlmostEqual(summary["balance_owed"], 1100.0, msg="300 + 700 + 100 open")
        self.assertAlmostEqual(summary["credits_available"], 150.0, msg="credit note 200 - 50")
        self.assertEqual(
            [(line["matter"], line["balance"]) for line in summary["trust"]],
            [(self.matter_a, 3300.0), (self.matter_a2, 800.0)],
        )
        self.assertEqual(
            summary["latest_invoices"], self.invoice_3 | self.invoice_2 | self.invoice_1
        )
        self.assertEqual(
            list(summary["latest_invoices"]), [self.invoice_3, self.invoice_2, self.invoice_1]
        )

    def test_history_filters_and_pagination(self):
        Statement = self.env["legal.billing.statement"]
        history = Statement._billing_history(self.client_a, self.company, limit=100)
        kinds = [row["kind"] for row in history["rows"]]
        self.assertEqual(history["total"], 12)
        self.assertEqual(
            sorted(kinds),
            sorted(
                ["invoice"] * 3
                + ["payment"] * 2
                + ["credit_note", "refund"]
                + ["trust_deposit"] * 2
                + ["trust_disbursement"]
                + ["trust_transfer"] * 2
            ),
        )
        dates = [row["date"] for row in history["rows"]]
        self.assertEqual(dates, sorted(dates, reverse=True), "newest first")
        self.assertNotIn(self.invoice_b.name, [row["reference"] for row in history["rows"]])
        # Type filter.
        invoices = Statement._billing_history(self.client_a, self.company, kind="invoice")
        self.assertEqual(
            [row["reference"] for row in invoices["rows"]],
            [self.invoice_3.name, self.invoice_2.name, self.invoice_1.name],
        )
        # Date range.
        period = Statement._billing_history(
            self.client_a, self.company, date_from=self.date_from, date_to=self.date_to, limit=100
        )
        self.assertEqual(period["total"], 8)
        self.assertTrue(
            all(self.date_from <= row["date"] <= self.date_to for row in period["rows"])
        )
        # Matter.
        lease = Statement._billing_history(self.client_a, self.company, matter=self.matter_a2)
        self.assertEqual(
            sorted(row["kind"] for row in lease["rows"]), ["trust_deposit", "trust_transfer"]
        )
        with self.assertRaisesRegex(UserError, "not one of the client's matters"):
            Statement._billing_history(self.client_a, self.company, matter=self.matter_b)
        with self.assertRaisesRegex(UserError, "Unknown type"):
            Statement._billing_history(self.client_a, self.company, kind="salary")
        # Pagination: three pages of 5, 5 and 2, no row twice.
        pages = [
            Statement._billing_history(self.client_a, self.company, limit=5, offset=offset)
            for offset in (0, 5, 10)
        ]
        self.assertEqual([len(page["rows"]) for page in pages], [5, 5, 2])
        seen = [
            (row["kind"], row["move_id"], row["matter"].id)
            for page in pages
            for row in page["rows"]
        ]
        self.assertEqual(len(set(seen)), 12)
        self.assertEqual({page["total"] for page in pages}, {12})

    def test_another_company_of_the_firm_is_never_mixed_in(self):
        other = self.setup_other_company(name="Other Firm")["company"]
        invoice = (
            self.env["account.move"]
            .with_company(other)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.client_a.id,
                    "company_id": other.id,
                    "invoice_date": self._day(30),
                    "invoice_line_ids": [
                        Command.create(
                            {"name": "Other advice", "quantity": 1, "price_unit": 4321.0}
                        )
                    ],
                }
            )
        )
        invoice.action_post()
        Statement = self.env["legal.billing.statement"]
        self.assertAlmostEqual(
            Statement._billing_summary(self.client_a, self.company)["balance_owed"], 1100.0
        )
        self.assertAlmostEqual(self._statement()["closing"], 850.0)
        history = Statement._billing_history(self.client_a, self.company, limit=100)
        self.assertEqual(len(history["rows"]), 12)
        self.assertNotIn(invoice.id, [row["move_id"] for row in history["rows"]])
        elsewhere = Statement._statement(self.client_a, other, self.date_from, self.date_to)
        self.assertEqual([line["move_id"] for line in elsewhere["lines"]], invoice.ids)
        self.assertFalse(elsewhere["trust"], "the matters are in the first company")

    def test_bad_periods_are_refused(self):
        with self.assertRaisesRegex(UserError, "after its end"):
            self._statement(date_from=self.date_to, date_to=self.date_from)
        with self.assertRaisesRegex(UserError, "first and the last day"):
            self.env["legal.billing.statement"]._statement(
                self.client_a, self.company, False, self.date_to
            )

    def test_pdf_report_renders_the_statement(self):
        data = self.env["legal.billing.statement"]._statement_report_data(
            self.company, self.date_from, self.date_to
        )
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html(
                "legal_payments.action_report_billing_statement", self.client_a.ids, data=data
            )[0]
            .decode()
        )
        self.assertIn("Statement of Account", html)
        self.assertIn(self.invoice_2.name, html)
        self.assertIn("Funds held in trust", html)
        self.assertIn(self.matter_a2.name, html)
        self.assertNotIn(self.invoice_b.name, html)
        self.assertNotIn(self.invoice_3.name, html, "after the period")
        content, report_type = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf(
                "legal_payments.action_report_billing_statement", self.client_a.ids, data=data
            )
        )
        self.assertEqual(report_type, "pdf")
        self.assertTrue(content.startswith(b"%PDF"))

    def test_report_formats_amounts_and_dates_as_odoo_does(self):
        Report = self.env["report.legal_payments.report_billing_statement"]
        currency = self.company.currency_id
        fmt_money = Report._money_formatter(currency)
        self.assertEqual(fmt_money(-0.004), "$\N{NO-BREAK SPACE}0.00", "never a minus zero")
        for amount in (0.0, 1.5, -1200.0, 1234567.891, -0.5):
            self.assertEqual(fmt_money(amount), formatLang(self.env, amount, currency_obj=currency))
        euro = self.env.ref("base.EUR")
        self.assertEqual(
            Report._money_formatter(euro)(-1234.5), formatLang(self.env, -1234.5, currency_obj=euro)
        )
        self.assertEqual(
            Report._date_formatter()(self.date_to), format_date(self.env, self.date_to)
        )

    def test_report_is_for_billing_users_only(self):
        portal = self.env["res.users"].create(
            {
                "name": "Portal Alice",
                "login": "portal_alice_statement",
                "partner_id": self.contact_a.id,
                "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
            }
        )
        with self.assertRaises(AccessError):
            self.env["ir.actions.report"].with_user(portal)._render_qweb_html(
                "legal_payments.action_report_billing_statement", self.client_a.ids
            )
        html = (
            self.env["ir.actions.report"]
            .with_user(self.trust_user)
            ._render_qweb_html("legal_payments.action_report_billing_statement", self.client_a.ids)[
                0
            ]
        )
        self.assertIn(b"Statement of Account", html, "default period: the previous month")


@tagged("post_install", "-at_install")
class TestStatementMails(LegalBillingCommon):
    def _queued(self):
        return self.env["mail.mail"].search(
            [("model", "=", "res.partner"), ("subject", "ilike", "statement of account")]
        )

    def test_batch_send_queues_one_mail_per_client_with_the_pdf(self):
        wizard = (
            self.env["legal.statement.send"]
            .with_context(
                active_model="res.partner",
                active_ids=(self.contact_a | self.client_a | self.client_b).ids,
            )
            .create({"date_from": self.date_from, "date_to": self.date_to})
        )
        self.assertEqual(wizard.partner_ids, self.contact_a | self.client_a | self.client_b)
        wizard.action_send()
        mails = self._queued()
        self.assertEqual(len(mails), 2, "one e-mail per client, contacts folded into it")
        self.assertEqual(set(mails.mapped("state")), {"outgoing"}, "queued, not sent inline")
        self.assertEqual(set(mails.mapped("res_id")), {self.client_a.id, self.client_b.id})
        mail_a = mails.filtered(lambda m: m.res_id == self.client_a.id)
        self.assertEqual(mail_a.recipient_ids, self.client_a)
        self.assertEqual(len(mail_a.attachment_ids), 1)
        attachment = base64.b64decode(mail_a.attachment_ids.datas).decode()
        self.assertIn(self.invoice_2.name, attachment)
        self.assertNotIn(self.invoice_b.name, attachment)
        sent = self.env["legal.billing.statement.sent"].search([("kind", "=", "batch")])
        self.assertEqual(sent.partner_id, self.client_a | self.client_b)

    def test_batch_send_refuses_a_client_without_email_and_queues_nothing(self):
        self.client_b.email = False
        wizard = self.env["legal.statement.send"].create(
            {
                "partner_ids": [(6, 0, (self.client_a | self.client_b).ids)],
                "date_from": self.date_from,
                "date_to": self.date_to,
            }
        )
        with self.assertRaisesRegex(UserError, "Client B"):
            wizard.action_send()
        self.assertFalse(self._queued())
        self.assertFalse(self.env["legal.billing.statement.sent"].search([]))
        wizard.write({"date_from": self.date_to, "date_to": self.date_from})
        with self.assertRaisesRegex(UserError, "after its end"):
            wizard.action_send()

    def test_monthly_cron_sends_last_month_once(self):
        Statement = self.env["legal.billing.statement"]
        self.client_a.legal_monthly_statement = True
        # "Today" is the 5th of the month after the period's month.
        today = self.today
        # (The demo data has a client of its own asking for a monthly statement.)
        asked = self.env["res.partner"].search([("legal_monthly_statement", "=", True)])
        sent = Statement._cron_send_monthly_statements(today=today)
        self.assertIn(self.client_a, sent.partner_id)
        self.assertLessEqual(sent.partner_id, asked, "only the clients who asked for it")
        self.assertNotIn(self.client_b, sent.partner_id)
        queued = len(self._queued())
        sent = sent.filtered(lambda s: s.partner_id == self.client_a)
        first, last = Statement._previous_month(today)
        self.assertEqual((sent.date_from, sent.date_to), (first, last))
        self.assertEqual(sent.mail_id.state, "outgoing")
        self.assertEqual(len(sent.mail_id.attachment_ids), 1)
        again = Statement._cron_send_monthly_statements(today=today)
        self.assertFalse(again, "the same month is never sent twice")
        self.assertEqual(len(self._queued()), queued)
        next_month = Statement._cron_send_monthly_statements(today=today + relativedelta(months=1))
        self.assertIn(self.client_a, next_month.partner_id, "the next month is sent")


@tagged("post_install", "-at_install")
class TestMonthlyStatementConcurrency(TransactionCase):
    """Two monthly jobs at once, in two real transactions, on committed fixtures (removed
    afterwards): one statement is queued."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            company = env.ref("base.main_company")
            if not company.chart_template:
                self.skipTest("the main company has no chart of accounts")
            client = env["res.partner"].create(
                {
                    "name": "Concurrent Statement Client",
                    "email": "concurrent.statement@example.com",
                    "legal_monthly_statement": True,
                }
            )
            last_day = env["legal.billing.statement"]._previous_month()[1]
            invoice = env["account.move"].create(
                {
                    "move_type": "out_invoice",
                    "partner_id": client.id,
                    "company_id": company.id,
                    "invoice_date": last_day,
                    "date": last_day,
                    "invoice_line_ids": [
                        Command.create({"name": "Advice", "quantity": 1, "price_unit": 120.0})
                    ],
                }
            )
            invoice.action_post()
            self.client_id, self.invoice_id = client.id, invoice.id
        self.addCleanup(self._remove_fixtures)

    def _remove_fixtures(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"force_delete": True})
            sent = env["legal.billing.statement.sent"].search([("partner_id", "=", self.client_id)])
            sent.mail_id.mail_message_id.unlink()
            sent.mail_id.unlink()
            sent.unlink()
            invoice = env["account.move"].browse(self.invoice_id)
            invoice.button_draft()
            invoice.unlink()
            env["res.partner"].browse(self.client_id).unlink()

    def test_two_concurrent_runs_queue_one_statement(self):
        results, errors = [], []
        barrier = threading.Barrier(2)

        def run():
            try:
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    barrier.wait(10)
                    sent = env["legal.billing.statement"]._cron_send_monthly_statements()
                    results.append(sent.filtered(lambda s: s.partner_id.id == self.client_id).ids)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        self.assertFalse(errors)
        self.assertEqual(sorted(len(ids) for ids in results), [0, 1])
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            sent = env["legal.billing.statement.sent"].search([("partner_id", "=", self.client_id)])
            self.assertEqual(len(sent), 1)
            self.assertEqual(len(sent.mail_id), 1)
