"""The ``scripted`` policy: a rule-based Crafter teacher that needs no model (docs/scripted.md).

It lives in the crafter plugin because it reads the plugin's ground-truth contract
(:mod:`vlmforge_crafter.ground_truth`); it never imports ``crafter`` or the environment.
Registered by :mod:`vlmforge_crafter` as ``"vlmforge_crafter.teacher.policy:ScriptedPolicy"``.
"""
