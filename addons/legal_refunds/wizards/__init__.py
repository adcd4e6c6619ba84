from . import legal_refund_wizard
