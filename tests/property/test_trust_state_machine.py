"""Stateful property test of legal_trust's public API on real PostgreSQL (hypothesis).

A ``RuleBasedStateMachine`` drives random sequences of trust movements through the public
methods of ``legal.matter`` (``trust_deposit`` cleared or not, ``trust_clear_deposit``,
``trust_disburse``, ``trust_transfer``, ``trust_pay_invoice`` in full or in part,
``trust_reverse`` of any of them, ``action_close``/``action_reopen``), disbursements typed
as journal entries by a random role with or without forged context keys, and
``legal.trust.reconciliation`` (``action_done``, which locks earlier dates), on two clients,
three matters and two trust bank journals, with accounting dates of today and the two days
before. A reference model predicts each outcome (posted or refused).

After every step:

* the outcome is the model's; a refused step changes nothing (no entry, draft or posted, no
  journal item, no reconciliation), although the step runs *without* a savepoint of ours: the
  API itself must leave nothing behind for a caller that catches the error and goes on;
* every posted entry of the company balances;
* no matter's ``trust_available`` (nor ``trust_uncleared``) is below zero, and
  ``trust_balance``/``trust_available`` are the model's and the SQL sum of the matter's ledger;
* bank = book = sum of client ledgers: for each trust journal, a three-way reconciliation
  dated today with the journal's own balance as statement balance is balanced.

Each example runs in a savepoint rolled back at its end. Run it with
``./scripts/test tests/property``.
"""

import datetime

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.fields import Command
from odoo.tests import tagged
from odoo.tools import SQL

from odoo.addons.legal_trust.tests.common import LegalTrustCommon

# What an RPC caller can send in its context to try to switch a check off.
FORGED_CONTEXT = {"legal_trust_gate": True, "check_move_validity": False, "force_delete": True}
CENTS = st.integers(min_value=1, max_value=50_000)  # 0.01 to 500.00
DAYS_AGO = st.sampled_from([0, 0, 0, 1, 2])  # mostly today
MAX_EXAMPLES = 15
STEPS_PER_EXAMPLE = 14


class TrustLedgerMachine(RuleBasedStateMachine):
    """Reference model of the trust ledgers; ``case`` is the running Odoo test case."""

    case = None  # set by the test before running the machine

    moves = Bundle("moves")
    deposits = Bundle("deposits")

    def __init__(self):
        super().__init__()
        case = self.case
        self.env = case.env
        self.cr = case.env.cr
        self.cr.execute("SAVEPOINT trust_machine")
        self.today = fields.Date.context_today(case.env["legal.matter"])
        # A person (the Trust Manager), not the superuser: a reconciled date is refused to
        # people, while the system's postings move to the next open day.
        self.matters = [
            m.with_user(case.trust_manager) for m in (case.matter_a, case.matter_a2, case.matter_b)
        ]
        self.journals = [case.trust_journal, case.trust_journal_2]
        self.currency = case.matter_a.currency_id
        # cents per matter id: cleared (available) and uncleared
        self.cleared = {m.id: 0 for m in self.matters}
        self.uncleared = {m.id: 0 for m in self.matters}
        self.closed = {m.id: False for m in self.matters}
        # move id -> {"date": date, "reversed": bool, "lines": {matter_id: [cleared, uncleared]}}
        self.model_moves = {}
        self.lock_date = None
        self.steps = []

    def teardown(self):
        self.cr.execute("ROLLBACK TO SAVEPOINT trust_machine")
        self.env.invalidate_all()
        self.env.registry.clear_cache()

    # ------------------------------------------------------------------ helpers
    def _date(self, days_ago):
        return self.today - datetime.timedelta(days=days_ago)

    def _money(self, cents):
        return cents / 100.0

    def _open(self, *matters):
        return not any(self.closed[m.id] for m in matters)

    def _after_lock(self, date):
        return self.lock_date is None or date > self.lock_date

    def _snapshot(self):
        self.env.flush_all()
        self.cr.execute(
            SQL(
                """
                SELECT (SELECT COUNT(*) FROM account_move
                         WHERE company_id = %(c)s AND state = 'posted'),
                       (SELECT COUNT(*) FROM account_move_line
                         WHERE company_id = %(c)s AND parent_state = 'posted'),
                       (SELECT COALESCE(SUM(ABS(balance)), 0) FROM account_move_line
                         WHERE company_id = %(c)s AND parent_state = 'posted'),
                       (SELECT COUNT(*) FROM account_move_line
                         WHERE company_id = %(c)s AND trust_uncleared),
                       (SELECT COUNT(*) FROM legal_trust_reconciliation
                         WHERE company_id = %(c)s AND state = 'done'),
                       (SELECT string_agg(state, ',' ORDER BY id) FROM legal_matter
                         WHERE id = ANY(%(m)s)),
                       (SELECT COUNT(*) FROM account_move WHERE company_id = %(c)s),
                       (SELECT COUNT(*) FROM account_move_line WHERE company_id = %(c)s)
                """,
                c=self.case.company.id,
                m=[m.id for m in self.matters],
            )
        )
        return self.cr.fetchone()

    def _attempt(self, label, expected_ok, action):
        """Run one API call without a savepoint of ours; check the outcome and, when it
        was refused, that nothing changed."""
        self.steps.append(label)
        before = self._snapshot()
        try:
            result = action()
            ok = True
        except (UserError, ValidationError) as exc:
            ok, result = False, exc
            self.env.invalidate_all()
        self.case.assertEqual(
            ok,
            expected_ok,
            f"{label}: {'posted' if ok else f'refused ({result})'}, the model expected "
            f"{'posted' if expected_ok else 'refused'}; steps: {self.steps}",
        )
        if not ok:
            self.case.assertEqual(
                self._snapshot(), before, f"{label} was refused and changed something"
            )
        return result if ok else None

    def _covered(self, matter_id, cents, date):
        """Whether the matter's cleared funds cover ``cents`` on ``date`` and every later
        day (the gate refuses a back-dated outflow that would overdraw any day since)."""
        days = {date} | {m["date"] for m in self.model_moves.values() if m["date"] >= date}
        for day in days:
            available = sum(
                m["lines"].get(matter_id, [0, 0])[0]
                for m in self.model_moves.values()
                if m["date"] <= day
            )
            if cents > available:
                return False
        return True

    def _record(self, move_id, date, lines):
        self.model_moves[move_id] = {"date": date, "reversed": False, "lines": lines}
        for matter_id, (cleared, uncleared) in lines.items():
            self.cleared[matter_id] += cleared
            self.uncleared[matter_id] += uncleared
        return move_id

    # ------------------------------------------------------------------ rules
    @rule(
        target=deposits,
        matter=st.integers(0, 2),
        journal=st.integers(0, 1),
        cents=CENTS,
        cleared=st.booleans(),
        days_ago=DAYS_AGO,
    )
    def deposit(self, matter, journal, cents, cleared, days_ago):
        matter, journal, date = self.matters[matter], self.journals[journal], self._date(days_ago)
        expected = self._open(matter) and self._after_lock(date)
        move_id = self._attempt(
            f"deposit {cents} {'cleared' if cleared else 'uncleared'} on {matter.title} "
            f"in {journal.code} dated -{days_ago}",
            expected,
            lambda: matter.trust_deposit(
                self._money(cents), journal_id=journal.id, date=date, cleared=cleared
            ),
        )
        if move_id is None:
            return None
        lines = {matter.id: [cents, 0] if cleared else [0, cents]}
        return self._record(move_id, date, lines)

    @rule(deposit=deposits)
    def clear(self, deposit):
        if deposit is None:
            return
        model = self.model_moves[deposit]
        ((matter_id, (cleared, uncleared)),) = model["lines"].items()
        matter = self.env["legal.matter"].with_user(self.case.trust_manager).browse(matter_id)
        result = self._attempt(
            f"clear deposit {deposit}",
            not model["reversed"],
            lambda: matter.trust_clear_deposit(deposit),
        )
        if result is None:
            return
        self.case.assertEqual(result, bool(uncleared), "clearing twice answers False")
        if uncleared:
            model["lines"][matter_id] = [uncleared, 0]
            self.uncleared[matter_id] -= uncleared
            self.cleared[matter_id] += uncleared

    @rule(
        target=moves,
        matter=st.integers(0, 2),
        journal=st.integers(0, 1),
        cents=CENTS,
        days_ago=DAYS_AGO,
    )
    def disburse(self, matter, journal, cents, days_ago):
        matter, journal, date = self.matters[matter], self.journals[journal], self._date(days_ago)
        expected = (
            self._open(matter) and self._after_lock(date) and self._covered(matter.id, cents, date)
        )
        move_id = self._attempt(
            f"disburse {cents} from {matter.title} in {journal.code} dated -{days_ago}",
            expected,
            lambda: matter.trust_disburse(
                self._money(cents), self.case.payee.id, journal_id=journal.id, date=date
            ),
        )
        if move_id is None:
            return None
        return self._record(move_id, date, {matter.id: [-cents, 0]})

    @rule(
        target=moves,
        source=st.integers(0, 2),
        target_matter=st.integers(0, 2),
        cents=CENTS,
        days_ago=DAYS_AGO,
    )
    def transfer(self, source, target_matter, cents, days_ago):
        source, target = self.matters[source], self.matters[target_matter]
        date = self._date(days_ago)
        expected = (
            source != target
            and source.partner_id == target.partner_id
            and self._open(source, target)
            and self._after_lock(date)
            and self._covered(source.id, cents, date)
        )
        move_id = self._attempt(
            f"transfer {cents} from {source.title} to {target.title} dated -{days_ago}",
            expected,
            lambda: source.trust_transfer(target.id, self._money(cents), date=date),
        )
        if move_id is None:
            return None
        return self._record(move_id, date, {source.id: [-cents, 0], target.id: [cents, 0]})

    @rule(
        target=moves,
        matter=st.integers(0, 2),
        invoice_cents=CENTS,
        part=st.sampled_from([None, 1, 2, 3]),
        foreign=st.booleans(),
        days_ago=DAYS_AGO,
    )
    def pay_invoice(self, matter, invoice_cents, part, foreign, days_ago):
        """Pay a new posted invoice from trust, in full (part None) or 1/part of it; a
        ``foreign`` invoice belongs to the matter of the other client: always refused."""
        matter = self.matters[matter]
        owner = self.matters[2 if matter.partner_id == self.case.client_a else 0]
        invoice = self.case._invoice(owner if foreign else matter, self._money(invoice_cents))
        cents = invoice_cents if part is None else max(1, invoice_cents // part)
        date = self._date(days_ago)
        expected = (
            not foreign
            and self._open(matter)
            and self._after_lock(date)
            and self._covered(matter.id, cents, date)
        )
        result = self._attempt(
            f"pay {cents} of a {invoice_cents} invoice{' of another client' if foreign else ''} "
            f"from {matter.title} dated -{days_ago}",
            expected,
            lambda: matter.trust_pay_invoice(
                invoice.id, amount=None if part is None else self._money(cents), date=date
            ),
        )
        if result is None:
            return None
        trust_move_id, operating_move_id = result
        operating = self.env["account.move"].browse(operating_move_id)
        self.case.assertEqual(operating.state, "posted")
        self.case.assertEqual(
            invoice.payment_state,
            "paid" if cents == invoice_cents else "partial",
            "the invoice is paid by what trust applied",
        )
        return self._record(trust_move_id, date, {matter.id: [-cents, 0]})

    @rule(move=st.one_of(moves, deposits), through=st.integers(0, 1), days_ago=DAYS_AGO)
    def reverse(self, move, through, days_ago):
        if move is None:
            return
        model = self.model_moves[move]
        matter_ids = sorted(model["lines"])
        matter = (
            self.env["legal.matter"]
            .with_user(self.case.trust_manager)
            .browse(matter_ids[through % len(matter_ids)])
        )
        date = self._date(days_ago)
        matters = self.env["legal.matter"].browse(matter_ids)
        expected = (
            not model["reversed"]
            and self._open(*matters)
            and self._after_lock(date)
            and all(
                self._covered(mid, cleared, date)
                for mid, (cleared, _u) in model["lines"].items()
                if cleared > 0
            )
        )
        reversal_id = self._attempt(
            f"reverse move {move} through {matter.title} dated -{days_ago}",
            expected,
            lambda: matter.trust_reverse(move, date=date),
        )
        if reversal_id is None:
            return
        model["reversed"] = True
        self._record(
            reversal_id,
            date,
            {mid: [-cleared, -uncleared] for mid, (cleared, uncleared) in model["lines"].items()},
        )
        self.model_moves[reversal_id]["reversed"] = True  # not reversed again by this model

    @rule(
        target=moves,
        matter=st.integers(0, 2),
        cents=CENTS,
        days_ago=DAYS_AGO,
        role=st.sampled_from(["billing", "trust_user", "trust_manager"]),
        forged=st.booleans(),
    )
    def manual_disbursement(self, matter, cents, days_ago, role, forged):
        """A disbursement typed as a journal entry in Odoo by a random role, with or
        without the context keys a caller could send to switch checks off: only a Trust
        Manager passes, and the gate's rules hold for him as for the trust API."""
        matter, date = self.matters[matter], self._date(days_ago)
        user = self.case.role_users[role]
        context = FORGED_CONTEXT if forged else {}
        expected = (
            role == "trust_manager"
            and self._open(matter)
            and self._after_lock(date)
            and self._covered(matter.id, cents, date)
        )
        account = self.case.trust_account
        journal = self.journals[0]

        def post():
            # One RPC call is one transaction: what it creates goes with its refusal.
            with self.cr.savepoint():
                move = (
                    self.env["account.move"]
                    .with_user(user)
                    .with_context(**context)
                    .create(
                        {
                            "move_type": "entry",
                            "journal_id": journal.id,
                            "date": date,
                            "line_ids": [
                                Command.create(
                                    {
                                        "name": "manual",
                                        "account_id": account.id,
                                        "partner_id": matter.commercial_partner_id.id,
                                        "matter_id": matter.id,
                                        "debit": self._money(cents),
                                    }
                                ),
                                Command.create(
                                    {
                                        "name": "manual",
                                        "account_id": journal.default_account_id.id,
                                        "partner_id": self.case.payee.id,
                                        "credit": self._money(cents),
                                    }
                                ),
                            ],
                        }
                    )
                )
                move.action_post()
            return move.id

        move_id = self._attempt(
            f"manual disbursement {cents} from {matter.title} by {role}"
            f"{' with forged context' if forged else ''} dated -{days_ago}",
            expected,
            post,
        )
        if move_id is None:
            return None
        return self._record(move_id, date, {matter.id: [-cents, 0]})

    @rule(matter=st.integers(0, 2))
    def close_or_reopen(self, matter):
        matter = self.matters[matter]
        if self.closed[matter.id]:
            self._attempt(f"reopen {matter.title}", True, matter.action_reopen)
            self.closed[matter.id] = False
            return
        empty = self.cleared[matter.id] == 0 and self.uncleared[matter.id] == 0
        self._attempt(f"close {matter.title}", empty, matter.action_close)
        self.closed[matter.id] = empty

    @precondition(lambda self: self.lock_date is None or self.lock_date < self._date(1))
    @rule(journal=st.integers(0, 1), days_ago=st.integers(1, 2))
    def reconcile_done(self, journal, days_ago):
        """Mark a three-way reconciliation of an earlier day done (it locks that day)."""
        journal, date = self.journals[journal], self._date(days_ago)
        ledgers = {m.id: 0 for m in self.matters}
        for model in self.model_moves.values():
            if model["date"] <= date:
                for mid, (cleared, uncleared) in model["lines"].items():
                    ledgers[mid] += cleared + uncleared
        expected = self._after_lock(date) and all(v >= 0 for v in ledgers.values())
        reconciliation = (
            self.env["legal.trust.reconciliation"]
            .with_user(self.case.trust_manager)
            .create(
                {
                    "journal_id": journal.id,
                    "date": date,
                    "statement_balance": self.case._book(journal, date),
                }
            )
        )
        self.case.assertEqual(
            reconciliation.negative_matter_count,
            sum(v < 0 for v in ledgers.values()),
            f"matters below zero on {date}; steps: {self.steps}",
        )
        self._attempt(
            f"reconcile {journal.code} done on -{days_ago}",
            expected,
            reconciliation.action_done,
        )
        if expected:
            self.lock_date = date

    # ------------------------------------------------------------------ invariants
    @invariant()
    def entries_balance(self):
        self.env.flush_all()
        self.cr.execute(
            SQL(
                """
                SELECT move_id FROM account_move_line
                 WHERE company_id = %s AND parent_state = 'posted'
              GROUP BY move_id HAVING ROUND(SUM(debit) - SUM(credit), 2) <> 0
                """,
                self.case.company.id,
            )
        )
        self.case.assertFalse(self.cr.fetchall(), "every posted entry balances")

    @invariant()
    def ledgers_match_the_model(self):
        self.env.invalidate_all()
        account = self.case.trust_account
        for matter in self.matters:
            self.cr.execute(
                SQL(
                    """
                    SELECT COALESCE(SUM(-balance), 0),
                           COALESCE(SUM(CASE WHEN trust_uncleared THEN -balance END), 0)
                      FROM account_move_line
                     WHERE matter_id = %s AND account_id = %s AND parent_state = 'posted'
                    """,
                    matter.id,
                    account.id,
                )
            )
            ledger, uncleared = self.cr.fetchone()
            self.case.assertGreaterEqual(matter.trust_available, 0, matter.title)
            self.case.assertGreaterEqual(matter.trust_uncleared, 0, matter.title)
            expected_available = self._money(self.cleared[matter.id])
            expected_balance = self._money(self.cleared[matter.id] + self.uncleared[matter.id])
            self.case.assertAlmostEqual(
                matter.trust_available, expected_available, 2, f"{matter.title}: {self.steps}"
            )
            self.case.assertAlmostEqual(matter.trust_balance, expected_balance, 2)
            self.case.assertAlmostEqual(matter.trust_balance, ledger, 2, "balance = its ledger")
            self.case.assertAlmostEqual(matter.trust_uncleared, uncleared, 2)

    @invariant()
    def bank_equals_book_equals_ledgers(self):
        total = self._money(sum(self.cleared.values()) + sum(self.uncleared.values()))
        for journal in self.journals:
            reconciliation = self.env["legal.trust.reconciliation"].create(
                {
                    "journal_id": journal.id,
                    "date": self.today,
                    "statement_balance": self.case._book(journal, self.today),
                }
            )
            self.case.assertTrue(
                reconciliation.is_balanced,
                f"three-way reconciliation of {journal.code}: bank "
                f"{reconciliation.adjusted_bank_balance}, book {reconciliation.book_balance}, "
                f"ledgers {reconciliation.ledger_total}; steps: {self.steps}",
            )
            self.case.assertAlmostEqual(reconciliation.ledger_total, total, 2)
            self.case.assertAlmostEqual(reconciliation.book_balance, total, 2)


@tagged("post_install", "-at_install")
class TestTrustStateMachine(LegalTrustCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.trust_journal_2 = cls.env["account.journal"].create(
            {
                "name": "Second Client Trust Account",
                "code": "TR2",
                "type": "bank",
                "is_trust_account": True,
                "company_id": cls.company.id,
            }
        )
        cls.role_users = {
            "billing": cls._legal_user("billing_clerk", "account.group_account_invoice"),
            "trust_user": cls.trust_user,
            "trust_manager": cls.trust_manager,
        }

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

    def test_random_trust_movements_keep_the_invariants(self):
        TrustLedgerMachine.case = self
        try:
            run_state_machine_as_test(
                TrustLedgerMachine,
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
            TrustLedgerMachine.case = None


@tagged("post_install", "-at_install")
class TestRefusedReversalLeavesNoDraft(LegalTrustCommon):
    """Found by the state machine: a refused ``trust_reverse`` leaves its draft reversal
    entry behind for a caller that catches the error and goes on (``trust_deposit`` and the
    other movements post in a savepoint and leave nothing)."""

    def test_refused_reversal_leaves_no_draft(self):
        deposit_id = self.matter_a.trust_deposit(100.0)
        self.matter_a.trust_disburse(60.0, self.payee.id)
        drafts = self.env["account.move"].search_count([("state", "=", "draft")])
        # Not assertRaises: Odoo's runs the block in a savepoint, which would hide the draft.
        try:
            self.matter_a.trust_reverse(deposit_id)  # 40 available: refused
        except ValidationError:
            pass
        else:
            self.fail("the reversal of a spent deposit must be refused")
        self.assertEqual(
            self.env["account.move"].search_count([("state", "=", "draft")]),
            drafts,
            "the refused reversal left a draft entry",
        )
