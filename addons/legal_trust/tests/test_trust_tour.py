from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestTrustTour(HttpCase):
    """A Trust Manager records a deposit and is refused an overdraft in the web client."""

    def test_deposit_and_refused_overdraft_in_the_browser(self):
        company = self.env.ref("base.main_company")
        if not company._legal_trust_journals():
            self.env["account.journal"].create(
                {
                    "name": "Tour Trust",
                    "code": "TOUR",
                    "type": "bank",
                    "is_trust_account": True,
                    "company_id": company.id,
                }
            )
        client = self.env["res.partner"].create({"name": "Tour Client"})
        self.env["res.partner"].create({"name": "Tour Payee"})
        matter = self.env["legal.matter"].create(
            {"title": "Tour matter: deposit", "partner_id": client.id, "company_id": company.id}
        )
        self.start_tour("/odoo", "legal_trust_deposit_and_refused_overdraft", login="admin")
        matter.invalidate_recordset()
        self.assertEqual(matter.trust_balance, 250.0)
        self.assertEqual(
            matter.trust_line_ids.mapped("name"), ["Cheque 1042"], "the refused one left nothing"
        )
