"""The Lambda entry points: one module per trigger, each a Chalice Blueprint.

Lambda imports an event function's handler module directly (Chalice names a Blueprint's
handler ``chalicelib.handlers.<module>.<function>``; only the REST API's is ``app.app``), so
every function's init passes through this package, never necessarily through ``app.py``:
SnapStart's runtime hooks are registered here.
"""

from chalicelib.handlers import snapstart

snapstart.register()  # Lambda SnapStart's runtime hooks, where the runtime has them
