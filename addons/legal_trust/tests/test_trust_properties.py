"""Property tests: random sequences of trust movements against a reference model.

Each example is a random list of deposits (cleared or not), clearings, disbursements,
transfers, invoices paid from trust and reversals, on real PostgreSQL, rolled back to a
savepoint afterwards. After every step: the outcome (posted or refused) is the one the
reference model predicts, refused steps change nothing, every entry balances, no matter is
below zero, and bank = book = sum of the client ledgers.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import SQL

from .common import LegalTrustCommon

AMOUNTS = st.integers(min_value=1, max_value=60000).map(lambda cents: cents / 100.0)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), st.integers(0, 1), AMOUNTS, st.booleans()),
        st.tuples(st.just("clear"), st.integers(0, 1), st.integers(0, 20), st.just(None)),
        st.tuples(st.just("disburse"), st.integers(0, 1), AMOUNTS, st.just(None)),
        st.tuples(st.just("transfer"), st.integers(0, 1), AMOUNTS, st.just(None)),
        st.tuples(st.just("pay_invoice"), st.integers(0, 1), AMOUNTS, st.just(None)),
        st.tuples(st.just("reverse"), st.integers(0, 1), st.integers(0, 20), st.just(None)),
    ),
    max_size=12,
)


@tagged("post_install", "-at_install")
class TestTrustProperties(LegalTrustCommon):
    @settings(
        max_examples=30,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(steps=STEPS)
    def test_random_movements_keep_the_trust_invariants(self, steps):
        cr = self.env.cr
        cr.execute("SAVEPOINT trust_property")
        try:
            self._run_steps(steps)
        finally:
            cr.execute("ROLLBACK TO SAVEPOINT trust_property")
            self.env.invalidate_all()

    # ------------------------------------------------------------------ the model
    def _run_steps(self, steps):
        matters = (self.matter_a, self.matter_a2)
        currency = self.matter_a.currency_id
        model = {m.id: {"cleared": 0.0, "uncleared": 0.0} for m in matters}
        deposits = {m.id: [] for m in matters}  # [move_id, amount, cleared, reversed]
        for kind, index, value, flag in steps:
            matter, other = matters[index], matters[1 - index]
            state = model[matter.id]
            before = self._snapshot()
            expected_ok = True
            deposit = None
            if kind == "deposit":
                action = lambda m=matter, v=value, c=flag: m.trust_deposit(v, cleared=c)  # noqa: E731
            elif kind == "clear":
                # Reversed deposits too: clearing one must be refused (its money is gone).
                pending = [d for d in deposits[matter.id] if not d[2]]
                if not pending:
                    continue
                deposit = pending[value % len(pending)]
                expected_ok = not deposit[3]
                action = lambda m=matter, d=deposit: m.trust_clear_deposit(d[0])  # noqa: E731
            elif kind in ("disburse", "transfer", "pay_invoice"):
                expected_ok = currency.compare_amounts(value, state["cleared"]) <= 0
                if kind == "disburse":
                    action = lambda m=matter, v=value: m.trust_disburse(v, self.payee.id)  # noqa: E731
                elif kind == "transfer":
                    action = lambda m=matter, o=other, v=value: m.trust_transfer(o.id, v)  # noqa: E731
                else:
                    invoice = self._invoice(matter, value)
                    before = self._snapshot()
                    action = lambda m=matter, i=invoice: m.trust_pay_invoice(i.id)  # noqa: E731
            else:  # reverse a deposit: refused when its money was spent
                live = [d for d in deposits[matter.id] if not d[3]]
                if not live:
                    continue
                deposit = live[value % len(live)]
                key = "cleared" if deposit[2] else "uncleared"
                expected_ok = currency.compare_amounts(deposit[1], state[key]) <= 0
                action = lambda m=matter, d=deposit: m.trust_reverse(d[0])  # noqa: E731
            try:
                with self.env.cr.savepoint():
                    result = action()
                ok = True
            except (ValidationError, UserError):
                ok = False
            self.assertEqual(ok, expected_ok, f"{kind} {value} on {matter.name}: {state}")
            if not ok:
                self.assertEqual(self._snapshot(), before, "a refused step changes nothing")
            else:
                self._apply(kind, model, deposits, matter, other, value, flag, result, deposit)
            self._check_invariants(model)

    def _apply(self, kind, model, deposits, matter, other, value, flag, result, deposit):
        state = model[matter.id]
        if kind == "deposit":
            state["cleared" if flag else "uncleared"] += value
            deposits[matter.id].append([result, value, flag, False])
        elif kind == "clear":
            deposit[2] = True
            state["uncleared"] -= deposit[1]
            state["cleared"] += deposit[1]
        elif kind in ("disburse", "pay_invoice"):
            state["cleared"] -= value
        elif kind == "transfer":
            state["cleared"] -= value
            model[other.id]["cleared"] += value
        elif kind == "reverse":
            deposit[3] = True
            state["cleared" if deposit[2] else "uncleared"] -= deposit[1]

    # ------------------------------------------------------------------ invariants
    def _snapshot(self):
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT COUNT(*), COALESCE(SUM(balance), 0) FROM account_move_line "
                "WHERE company_id = %s AND parent_state = 'posted'",
                self.company.id,
            )
        )
        return self.env.cr.fetchone()

    def _check_invariants(self, model):
        currency = self.matter_a.currency_id
        self.env.invalidate_all()
        self.env.cr.execute(
            SQL(
                """
                SELECT move_id FROM account_move_line
                 WHERE company_id = %s AND parent_state = 'posted'
              GROUP BY move_id HAVING ROUND(SUM(debit) - SUM(credit), 2) <> 0
                """,
                self.company.id,
            )
        )
        self.assertFalse(self.env.cr.fetchall(), "every posted entry balances")
        for matter in (self.matter_a, self.matter_a2):
            expected = model[matter.id]
            self.assertTrue(currency.compare_amounts(matter.trust_available, 0) >= 0)
            self.assertAlmostEqual(matter.trust_available, expected["cleared"], places=2)
            self.assertAlmostEqual(
                matter.trust_balance, expected["cleared"] + expected["uncleared"], places=2
            )
        book = sum(
            self.env["account.move.line"]
            .search(
                [
                    ("account_id", "=", self.trust_journal.default_account_id.id),
                    ("parent_state", "=", "posted"),
                ]
            )
            .mapped("balance")
        )
        reconciliation = self.env["legal.trust.reconciliation"].create(
            {
                "journal_id": self.trust_journal.id,
                "date": fields.Date.today(),
                "statement_balance": book,
            }
        )
        self.assertTrue(reconciliation.is_balanced, "bank = book = sum of client ledgers")
