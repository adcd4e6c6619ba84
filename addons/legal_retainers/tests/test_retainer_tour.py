from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestRetainerTour(HttpCase):
    """A client opens the retainer request's e-mail link and pays it in Chromium with Odoo's
    demo provider, set on the firm's trust bank journal (a trust provider)."""

    def test_client_pays_a_retainer_request_from_its_email_link(self):
        company = self.env.ref("base.main_company")
        trust_journal = company._legal_default_trust_journal()
        demo = self.env.ref("payment.payment_provider_demo")
        self.assertEqual(demo.module_id.state, "installed", "run through scripts/test")
        demo.write({"state": "test", "is_published": True, "journal_id": trust_journal.id})
        client = self.env["res.partner"].create(
            {"name": "Tour Retainer Client", "email": "retainer@example.com"}
        )
        matter = self.env["legal.matter"].create(
            {
                "title": "Tour retainer",
                "partner_id": client.id,
                "company_id": company.id,
                "retainer_enabled": True,
                "retainer_initial_amount": 750.0,
            }
        )
        request = matter.action_request_retainer()
        mail = self.env["mail.message"].search(
            [
                ("model", "=", request._name),
                ("res_id", "=", request.id),
                ("body", "ilike", "Pay Now"),
            ],
            limit=1,
        )
        self.assertIn(request.get_portal_url(), str(mail.body))
        self.start_tour(request.get_portal_url(), "legal_retainers_pay_from_email")
        request.invalidate_recordset()
        matter.invalidate_recordset()
        self.assertEqual((request.state, request.amount_paid), ("paid", 750.0))
        self.assertEqual(matter.trust_balance, 750.0)
