from . import main
from . import portal
from . import payment_methods
from . import payment_plan
