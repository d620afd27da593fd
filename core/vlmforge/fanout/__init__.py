"""Eval fan-out over a Ray cluster (``[ray]`` in an eval config): episodes played by Ray actors,
each running the same :class:`~vlmforge.runner.EvalRunner` a local eval runs, writing the same
store. ``ray`` is imported only when a config has ``[ray]`` (``pip install 'vlmforge[ray]'``).

- :mod:`vlmforge.fanout.config`: the ``[ray]`` settings;
- :mod:`vlmforge.fanout.worker`: what one actor does (build env, policy, store; play a seed);
- :mod:`vlmforge.fanout.executor`: the driver (connect or start a cluster, hand out seeds,
  survive a dead actor).
"""
