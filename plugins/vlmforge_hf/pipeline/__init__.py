"""``vlmforge pipeline``: collect -> filter -> tiny model -> train -> held-out comparison.

The command (:mod:`.command`) is registered by the ``hf`` plugin; the stages' wiring is
:mod:`.stages`, the held-out report :mod:`.report` (numbers) and :mod:`.report_display` (tables),
and the embedded offline demo ``pipeline_demo.toml`` (the same file as configs/pipeline_demo.toml).
"""
