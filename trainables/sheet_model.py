"""The name models logged before the stage packages still import.

Every MLflow Model folder carries its own `sheet_model_code.py`; those logged before
`trainables/` was split into stage packages import `SheetModel` from here.
"""

from trainables.serving.sheet_model import SheetModel

__all__ = ["SheetModel"]
