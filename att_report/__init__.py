"""att-report: compile a State's ATT annual report (Art. 13(3)) from agency spreadsheets.

Pipeline (one module or sub-package per stage):
intake (read) -> normalise -> validate -> reconcile -> compile -> render.
"""

__version__ = "0.1.0"
