"""The ``grpo`` trainer: reinforcement learning on environment reward for multi-turn VLM agents.

Each iteration plays a group of episodes per seed with the ``hf`` policy through the same runner
and trace store as ``vlmforge eval``, scores them with the environment's reward (and optional
shaping terms), normalises the returns within each group, and updates a LoRA adapter with a
clipped policy-gradient loss on the decisions plus a KL penalty towards the starting policy.
See docs/train.md ("RL: the grpo trainer").
"""
