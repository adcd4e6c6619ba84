from . import test_refund_operating
from . import test_refund_card_emulator
from . import test_refund_provider_events
from . import test_refund_trust_security
from . import test_refund_concurrency
from . import test_refund_integrity
from . import test_demo_refunds
