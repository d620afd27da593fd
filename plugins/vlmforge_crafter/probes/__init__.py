"""Vision probes: questions with one exact answer about a recorded Crafter frame (docs/probes.md).

A probe asks one thing about one recorded frame (what is in front of the player, where the
nearest tree is, how much wood the status bar shows, ...), with a fixed answer space so chance is
known. Probes are generated deterministically from the step's recorded ground truth
(:mod:`vlmforge_crafter.ground_truth`), never from the picture, and carry
:data:`~vlmforge_crafter.probes.catalog.PROBE_VERSION`.

- :mod:`.catalog`: the probe types, their answer spaces, questions and answers;
- :mod:`.frames`: the recorded frames of a source store and the seeded sample of them;
- :mod:`.probeset`: the deterministic probe set over the sampled frames;
- :mod:`.env`: the ``crafter-probes`` environment (one probe per episode, the answers a tool);
- :mod:`.answerers`: the ``probe-oracle`` and ``probe-random`` policies;
- :mod:`.accuracy`: accuracy per probe type with a 95% interval, chance and majority baselines;
- :mod:`.command`: ``vlmforge probe``.
"""
