"""Stateful property test of the trust ledgers with card payments, Stripe refunds and the
webhook inbox (hypothesis, real PostgreSQL).

The trust state machine of ``test_trust_state_machine`` (deposits, clearing, disbursements,
transfers, invoices paid from trust, reversals, closing, reconciliation locks, with its
reference model and its invariants) gets what Stripe does to the same matters:

* **card deposits**: a client pays into a matter's trust by card through the trust provider;
  Stripe succeeds at once and puts its ``payment_intent.succeeded`` event in its outbox;
* **refunds** made at Stripe (the dashboard) of any part of a card deposit: a
  ``charge.refunded`` event listing all the charge's refunds so far;
* **deliveries**: Stripe delivers any event of its outbox, in any order (a refund before its
  payment, a later refund before an earlier one), and may deliver it again later
  (duplicates); each delivery is verified and stored by the webhook inbox
  (``legal.stripe.event._legal_receive``);
* **processing**: the inbox cron, then the post-processing of the refunds, as the crons run.

The model: a payment is credited to its matter once, when its event has been delivered and
processed, whatever the duplicates; a refund is booked once, when an event listing it has been
delivered and its payment is credited (waiting for it otherwise), disbursed from the matter
up to what it holds (the rest is owed by the client and replenished by the firm, outside
trust). Matters are closed only when no Stripe money is on its way.

After every step, the invariants of the trust machine: every posted entry balances, no
matter below zero, each matter's figures are the model's and its ledger's, and bank = book =
sum of the client ledgers for every trust journal. Stripe's fees are recorded responses (the
emulator has no balance transactions).

Run it with ``./scripts/test tests/property`` (the four addons installed).
"""

import collections
import itertools
import logging

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule, run_state_machine_as_test
from test_trust_state_machine import CENTS, TrustLedgerMachine  # same folder (no package)

from odoo.fields import Command
from odoo.tests import new_test_user, tagged
from odoo.tools import SQL

from odoo.addons.legal_payments.tests.common import (
    WEBHOOK_SECRET,
    LegalPaymentsCommon,
    recorded_card_payment,
)

TRUST_SECRET = WEBHOOK_SECRET + "_trust"  # the trust provider's, in LegalPaymentsCommon
MAX_EXAMPLES = 10
STEPS_PER_EXAMPLE = 30


class PaymentsMachine(TrustLedgerMachine):
    """The trust machine, plus Stripe (card deposits, refunds, its outbox) and the inbox."""

    #: what the examples did, over the whole run (checked by the test: the Stripe side ran)
    seen = collections.Counter()

    def __init__(self):
        super().__init__()
        self.serial = itertools.count(1)
        self.created = itertools.count(1_700_000_000)
        self.responses = {}  # recorded Stripe answers (fees), filled as payments are made
        self.outbox = []  # events Stripe will deliver (again)
        self.delivered = set()  # event ids stored by the inbox
        self.payments = []  # card deposits, see card_deposit

    # ------------------------------------------------------------------ Stripe
    def _in_flight(self):
        return any(
            not p["credited"] or any(r not in p["booked"] for r, _c in p["refunds"])
            for p in self.payments
        )

    @rule(matter=st.integers(0, 2), cents=CENTS)
    def card_deposit(self, matter, cents):
        """A client pays into a matter's trust by card: Stripe succeeds and sends the event."""
        matter = self.matters[matter]
        if self.closed[matter.id]:
            return  # the portal takes no deposit into a closed matter
        n = next(self.serial)
        pi_id = f"pi_machine_{n}"
        self.steps.append(f"card deposit {cents} on {matter.title} ({pi_id})")
        tx = (
            self.env["payment.transaction"]
            .sudo()
            .create(
                {
                    "provider_id": self.case.stripe_trust.id,
                    "payment_method_id": self.env.ref("payment.payment_method_card").id,
                    "reference": f"MACHINE-{n}",
                    "amount": self._money(cents),
                    "currency_id": self.currency.id,
                    "partner_id": matter.partner_id.id,
                    "operation": "online_direct",
                    "legal_matter_id": matter.id,
                    "provider_reference": pi_id,
                }
            )
        )
        self.responses.update(
            recorded_card_payment(pi_id, amount=cents, fee=min(cents, 30 + cents * 29 // 1000))
        )
        event_id = f"evt_pi_{n}"
        intent = self.case._payment_intent(tx, pi_id=pi_id)
        self._send(self.case._event("payment_intent.succeeded", intent, event_id=event_id))
        self.payments.append(
            {
                "tx": tx,
                "pi": pi_id,
                "matter": matter.id,
                "cents": cents,
                "event": event_id,
                "credited": False,
                "refunds": [],  # (refund id, cents), in Stripe's order
                "refund_events": {},  # event id: refund ids it lists
                "booked": set(),
            }
        )

    def _send(self, event):
        event["created"] = next(self.created)
        self.outbox.append(event)

    @precondition(lambda self: self.payments)
    @rule(payment=st.integers(0, 50), share=st.sampled_from([1, 2, 3]))
    def stripe_refund(self, payment, share):
        """A refund made in the Stripe dashboard of 1/share of what is left of a payment."""
        payment = self.payments[payment % len(self.payments)]
        left = payment["cents"] - sum(c for _r, c in payment["refunds"])
        if left <= 0 or self.closed[payment["matter"]]:
            return  # (a closed matter's deposits are not refunded from Stripe here)
        cents = max(1, left // share)
        refund_id = f"re_machine_{next(self.serial)}"
        self.steps.append(f"Stripe refund {cents} of {payment['pi']} ({refund_id})")
        payment["refunds"].append((refund_id, cents))
        charge_id = payment["pi"].replace("pi_", "ch_")
        charge = {
            "id": charge_id,
            "object": "charge",
            "description": payment["tx"].reference,
            "payment_intent": payment["pi"],
            "amount": payment["cents"],
            "refunds": {
                "object": "list",
                "has_more": False,
                "data": [
                    {
                        "id": rid,
                        "object": "refund",
                        "amount": c,
                        "currency": self.currency.name.lower(),
                        "charge": charge_id,
                        "status": "succeeded",
                    }
                    for rid, c in payment["refunds"]
                ],
            },
        }
        event_id = f"evt_{refund_id}"
        payment["refund_events"][event_id] = {rid for rid, _c in payment["refunds"]}
        self._send(self.case._event("charge.refunded", charge, event_id=event_id))

    @precondition(lambda self: self.outbox)
    @rule(index=st.integers(0, 50), again=st.booleans())
    def deliver(self, index, again):
        """Stripe delivers one event of its outbox, in any order; ``again``: it will deliver
        it once more later (a duplicate)."""
        event = self.outbox[index % len(self.outbox)]
        self.steps.append(f"deliver {event['id']}{' (again later)' if again else ''}")
        if not again:
            self.outbox.remove(event)
        self.seen["duplicate deliveries"] += event["id"] in self.delivered
        if event["type"] == "charge.refunded":
            payment = next(p for p in self.payments if event["id"] in p["refund_events"])
            self.seen["refunds delivered before their payment"] += (
                payment["event"] not in self.delivered
            )
        payload, header = self.case._signed(event, secret=TRUST_SECRET)
        status = self.env["legal.stripe.event"].sudo()._legal_receive(payload, header)
        self.case.assertEqual(status, 200, f"delivery of {event['id']}; steps: {self.steps}")
        self.delivered.add(event["id"])
        stored = (
            self.env["legal.stripe.event"]
            .sudo()
            .search_count([("stripe_event_id", "=", event["id"])])
        )
        self.case.assertEqual(stored, 1, "an event is stored once, however often delivered")

    @rule()
    def process_inbox(self):
        """The inbox cron, then the post-processing of the refunds (payment's cron)."""
        self.steps.append("process the inbox")
        Event = self.env["legal.stripe.event"].sudo()
        with self.case.recorded_stripe(self.responses):
            Event._cron_process_stripe_events(auto_commit=False)
            refunds = (
                self.env["payment.transaction"]
                .sudo()
                .search(
                    [
                        ("operation", "=", "refund"),
                        ("state", "=", "done"),
                        ("is_post_processed", "=", False),
                    ]
                )
            )
            refunds._post_process()
        self.env.invalidate_all()
        failed = Event.search([("stripe_event_id", "in", list(self.delivered))]).filtered(
            lambda e: e.attempts or e.state == "error"
        )
        self.case.assertFalse(
            failed, f"{[(e.stripe_event_id, e.state_message) for e in failed]}: {self.steps}"
        )
        # The cron credits every payment whose event was delivered (a refund's event that
        # comes first waits for it), then the refunds' post-processing disburses them.
        for payment in self.payments:
            if not payment["credited"] and payment["event"] in self.delivered:
                tx = payment["tx"]
                self.case.assertEqual((tx.state, tx.is_post_processed), ("done", True))
                self.case.assertTrue(tx.legal_trust_move_id, "credited to the matter's trust")
                payment["credited"] = True
                self.seen["card deposits credited"] += 1
                self._record(
                    tx.legal_trust_move_id.id,
                    self.today,
                    {payment["matter"]: [payment["cents"], 0]},
                )
        for matter in self.matters:
            self._book_refunds(matter.id)
        # Nothing else became money: each payment credited once, each refund booked once.
        txs = (
            self.env["payment.transaction"]
            .sudo()
            .search([("reference", "=like", "MACHINE-%"), ("operation", "!=", "refund")])
        )
        credited = {p["pi"] for p in self.payments if p["credited"]}
        self.case.assertEqual(
            set(txs.filtered(lambda t: t.legal_trust_move_id).mapped("provider_reference")),
            credited,
        )

    def _book_refunds(self, matter_id):
        """The refunds of the matter's credited payments listed by a delivered event and not
        booked yet: one refund transaction each, disbursed together up to what it holds."""
        new = []
        for payment in self.payments:
            if payment["matter"] != matter_id or not payment["credited"]:
                continue
            listed = set().union(
                *(
                    refund_ids
                    for event_id, refund_ids in payment["refund_events"].items()
                    if event_id in self.delivered
                )
            )
            fresh = [(r, c) for r, c in payment["refunds"] if r in listed]
            fresh = [(r, c) for r, c in fresh if r not in payment["booked"]]
            refund_txs = payment["tx"].child_transaction_ids.filtered(
                lambda t: t.operation == "refund"
            )
            self.case.assertEqual(
                sorted(refund_txs.mapped("provider_reference")),
                sorted(payment["booked"] | {r for r, _c in fresh}),
                f"one refund transaction per refund a delivered event listed: {self.steps}",
            )
            payment["booked"] |= {r for r, _c in fresh}
            new += fresh
        if not new:
            return
        covered = min(sum(c for _r, c in new), self.cleared[matter_id])
        self.seen["refunds booked"] += len(new)
        self.seen["refunds beyond the matter's funds"] += covered < sum(c for _r, c in new)
        lines = (
            self.env["legal.refund.line"]
            .sudo()
            .search([("transaction_id.provider_reference", "in", [r for r, _c in new])])
        )
        self.case.assertEqual(set(lines.mapped("state")), {"done"}, self.steps)
        self.env.flush_all()
        disbursed = 0
        for move in lines.mapped("trust_move_id"):
            self.cr.execute(
                SQL(
                    "SELECT COALESCE(ROUND(SUM(balance) * 100), 0) FROM account_move_line "
                    "WHERE move_id = %s AND matter_id = %s AND account_id = %s",
                    move.id,
                    matter_id,
                    self.case.trust_account.id,
                )
            )
            cents = int(self.cr.fetchone()[0])
            disbursed += cents
            self._record(move.id, self.today, {matter_id: [-cents, 0]})
        self.case.assertEqual(
            disbursed,
            covered,
            f"refunds {new} disbursed up to what the matter held; steps: {self.steps}",
        )

    # The same Stripe rules under other names: hypothesis draws each rule equally often, and
    # the trust machine has eight; this way about half of the steps are Stripe's.
    @rule(matter=st.integers(0, 2), cents=CENTS)
    def card_deposit_2(self, matter, cents):
        self.card_deposit(matter, cents)

    @rule(matter=st.integers(0, 2), cents=CENTS)
    def card_deposit_3(self, matter, cents):
        self.card_deposit(matter, cents)

    @precondition(lambda self: self.payments)
    @rule(payment=st.integers(0, 50), share=st.sampled_from([1, 2, 3]))
    def stripe_refund_2(self, payment, share):
        self.stripe_refund(payment, share)

    @precondition(lambda self: self.payments)
    @rule(payment=st.integers(0, 50), share=st.sampled_from([1, 2, 3]))
    def stripe_refund_3(self, payment, share):
        self.stripe_refund(payment, share)

    @precondition(lambda self: self.outbox)
    @rule(index=st.integers(0, 50), again=st.booleans())
    def deliver_2(self, index, again):
        self.deliver(index, again)

    @precondition(lambda self: self.outbox)
    @rule(index=st.integers(0, 50), again=st.booleans())
    def deliver_3(self, index, again):
        self.deliver(index, again)

    @precondition(lambda self: self.outbox)
    @rule(index=st.integers(0, 50), again=st.booleans())
    def deliver_4(self, index, again):
        self.deliver(index, again)

    @rule()
    def process_inbox_2(self):
        self.process_inbox()

    # ------------------------------------------------------------------ the trust machine's
    @precondition(lambda self: not self._in_flight())
    @rule(matter=st.integers(0, 2))
    def close_or_reopen(self, matter):
        """As in the trust machine, when no Stripe money is on its way to or from a matter."""
        super().close_or_reopen(matter)


@tagged("post_install", "-at_install")
class TestPaymentsStateMachine(LegalPaymentsCommon):
    """The trust machine's fixture on top of the payments' one (trust provider and journals,
    recorded Stripe answers)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.trust_account = cls.company._legal_trust_liability_account()
        cls.trust_journal = cls.trust_bank
        cls.trust_journal_2 = cls.stripe_trust_journal  # the trust provider's journal
        cls.client_a = cls.client_partner
        cls.client_b = cls.env["res.partner"].create({"name": "Client Bea", "email": "b@ex.com"})
        cls.payee = cls.env["res.partner"].create({"name": "Expert Witness"})
        Matter = cls.env["legal.matter"]
        cls.matter_a = cls.matter
        cls.matter_a2 = Matter.create(
            {"title": "Ann: lease", "partner_id": cls.client_a.id, "user_id": cls.lawyer.id}
        )
        cls.matter_b = Matter.create(
            {"title": "Bea estate", "partner_id": cls.client_b.id, "user_id": cls.lawyer.id}
        )
        # The people of the trust machine: who posts decides what the gate allows.
        cls.trust_user, cls.trust_manager, billing = (
            new_test_user(
                cls.env,
                login=login,
                groups=f"base.group_user,{group}",
                company_id=cls.company.id,
                company_ids=[Command.set(cls.company.ids)],
            )
            for login, group in (
                ("machine_trust_user", "legal_trust.group_trust_user"),
                ("machine_trust_manager", "legal_trust.group_trust_manager"),
                ("machine_billing", "account.group_account_invoice"),
            )
        )
        cls.role_users = {
            "billing": billing,
            "trust_user": cls.trust_user,
            "trust_manager": cls.trust_manager,
        }

    def _invoice(self, matter, amount, post=True):
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": matter.partner_id.id,
                "matter_id": matter.id,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": "Legal services",
                            "quantity": 1,
                            "price_unit": amount,
                            "tax_ids": [Command.clear()],
                        }
                    )
                ],
            }
        )
        if post:
            invoice.action_post()
        return invoice

    def _book(self, journal, date):
        """Balance of a trust journal's bank account on a date (its statement balance)."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT COALESCE(SUM(balance), 0) FROM account_move_line WHERE account_id = %s "
                "AND parent_state = 'posted' AND date <= %s",
                journal.default_account_id.id,
                date,
            )
        )
        return self.env.cr.fetchone()[0]

    def test_card_payments_refunds_and_webhooks_keep_the_invariants(self):
        PaymentsMachine.case = self
        PaymentsMachine.seen.clear()
        stripe_logger = logging.getLogger("stripe")
        level = stripe_logger.level
        stripe_logger.setLevel(logging.WARNING)  # the SDK logs every recorded call at INFO
        try:
            run_state_machine_as_test(
                PaymentsMachine,
                settings=settings(
                    max_examples=MAX_EXAMPLES,
                    stateful_step_count=STEPS_PER_EXAMPLE,
                    deadline=None,
                    database=None,
                    phases=[Phase.explicit, Phase.reuse, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                ),
            )
        finally:
            PaymentsMachine.case = None
            stripe_logger.setLevel(level)
        # The Stripe side really ran (a machine that never got there would prove nothing).
        seen = PaymentsMachine.seen
        print(dict(seen))
        self.assertTrue(seen["card deposits credited"] and seen["refunds booked"], seen)
