from . import trust_reports
