# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).

import time

from odoo.tests import tagged

from .common import WEBHOOK_SECRET, LegalPaymentsCommon


@tagged("post_install", "-at_install")
class TestWebhookReception(LegalPaymentsCommon):
    def setUp(self):
        super().setUp()
        self.Event = self.env["legal.stripe.event"].sudo()
        self.tx = self._invoice_tx()
        self.event = self._event("payment_intent.succeeded", self._payment_intent(self.tx))

    def _count(self, event_id="evt_legal_1"):
        return self.Event.search_count([("stripe_event_id", "=", event_id)])

    def test_no_secret_fails_closed_and_logs_an_error(self):
        self.env["payment.provider"].sudo().search(
            [("code", "=", "stripe")]
        ).stripe_webhook_secret = False
        payload, header = self._signed(self.event)
        with self.assertLogs("odoo.addons.legal_payments", level="ERROR"):
            status = self.Event._legal_receive(payload, header)
        self.assertEqual(status, 503)
        self.assertEqual(self._count(), 0)

    def test_bad_signature_is_refused(self):
        payload, header = self._signed(self.event, secret="whsec_wrong")
        self.assertEqual(self.Event._legal_receive(payload, header), 400)
        self.assertEqual(self.Event._legal_receive(payload, None), 400)
        self.assertEqual(self._count(), 0)

    def test_tampered_body_is_refused(self):
        payload, header = self._signed(self.event)
        self.assertEqual(self.Event._legal_receive(payload.replace(b"500", b"501"), header), 400)

    def test_timestamp_tolerance_is_300_seconds_both_ways(self):
        now = int(time.time())
        for offset, expected in ((-290, 200), (-310, 400), (310, 400), (290, 200)):
            event = dict(self.event, id=f"evt_offset_{offset}")
            payload, header = self._signed(event, timestamp=now + offset)
            self.assertEqual(self.Event._legal_receive(payload, header), expected, offset)

    def test_any_of_several_v1_signatures_is_accepted(self):
        payload, header = self._signed(self.event)
        _old_t, old_v1 = self._signed(self.event, secret="whsec_old")[1].split(",")
        header = f"{header},{old_v1}"
        self.assertEqual(self.Event._legal_receive(payload, header), 200)
        self.assertEqual(self._count(), 1)

    def test_event_signed_by_the_trust_secret_belongs_to_the_trust_provider(self):
        payload, header = self._signed(self.event, secret=WEBHOOK_SECRET + "_trust")
        self.assertEqual(self.Event._legal_receive(payload, header), 200)
        self.assertEqual(
            self.Event.search([("stripe_event_id", "=", "evt_legal_1")]).provider_id,
            self.stripe_trust,
        )

    def test_duplicate_deliveries_are_stored_once(self):
        payload, header = self._signed(self.event)
        for _i in range(3):
            self.assertEqual(self.Event._legal_receive(payload, header), 200)
        self.assertEqual(self._count(), 1)

    def test_unknown_events_are_acknowledged_and_ignored(self):
        event = self._event("customer.created", {"id": "cus_1"}, event_id="evt_unknown")
        payload, header = self._signed(event)
        self.assertEqual(self.Event._legal_receive(payload, header), 200)
        self.assertEqual(self._count("evt_unknown"), 0)
