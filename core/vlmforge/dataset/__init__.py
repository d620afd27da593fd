"""The dataset pipeline behind ``vlmforge filter``: filters -> rows -> dedupe -> split -> export.

One small module per stage: :mod:`.config` (the TOML model), :mod:`.source` (episodes streamed from
trace stores), :mod:`.chain` (filters with per-filter counts), :mod:`.rows` (SFT examples),
:mod:`.dedupe`, :mod:`.spool` (rows on disk between the passes), :mod:`.split`, :mod:`.stats`
and :mod:`.pipeline` (the two streaming passes).
"""
