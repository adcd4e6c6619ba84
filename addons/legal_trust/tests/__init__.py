from . import test_trust_ledger
from . import test_trust_invoice_payment
from . import test_trust_concurrency
from . import test_trust_reconciliation
from . import test_trust_security
from . import test_trust_tour
from . import test_trust_properties
from . import test_trust_integrity
