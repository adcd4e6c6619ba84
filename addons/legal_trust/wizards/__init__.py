from . import legal_trust_movement_wizard
from . import legal_trust_report_wizard
from . import legal_trust_reconciliation_reopen
