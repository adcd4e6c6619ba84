from odoo import api, fields, models


class ReportTrustLedger(models.AbstractModel):
    _name = "report.legal_trust.report_trust_ledger"
    _description = "Client Trust Ledger Report"

    @api.model
    def _get_report_values(self, docids, data=None):
        data = data or {}
        matters = self.env["legal.matter"].browse(data.get("matter_ids") or docids)
        matters.check_access("read")
        date_from = fields.Date.to_date(data.get("date_from")) if data.get("date_from") else None
        date_to = fields.Date.to_date(data.get("date_to")) if data.get("date_to") else None
        return {
            "doc_ids": matters.ids,
            "doc_model": "legal.matter",
            "docs": matters,
            "date_from": date_from,
            "date_to": date_to,
            "ledgers": {m.id: m.sudo()._trust_ledger(date_from, date_to) for m in matters},
        }


class ReportTrustBalances(models.AbstractModel):
    _name = "report.legal_trust.report_trust_balances"
    _description = "Trust Balances of All Matters"

    @api.model
    def _get_report_values(self, docids, data=None):
        data = data or {}
        company = self.env["res.company"].browse(data.get("company_id")) or self.env.company
        date = fields.Date.to_date(data.get("date_to")) or fields.Date.context_today(self)
        self.env["legal.matter"].check_access("read")
        rows = self.env["legal.matter"]._trust_balances_as_of(date, company)
        matters = self.env["legal.matter"].browse([r[0] for r in rows])
        by_id = {m.id: m for m in matters}
        lines = [
            {"matter": by_id[mid], "balance": bal, "uncleared": unc, "available": bal - unc}
            for mid, bal, unc in rows
            if not company.currency_id.is_zero(bal)
        ]
        lines.sort(
            key=lambda line: (line["matter"].partner_id.display_name or "", line["matter"].name)
        )
        return {
            "doc_ids": [],
            "doc_model": "legal.matter",
            "docs": matters,
            "company": company,
            "currency": company.currency_id,
            "date": date,
            "lines": lines,
            "total": sum(line["balance"] for line in lines),
        }
