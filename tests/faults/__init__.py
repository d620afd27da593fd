"""Fault-injection tests (issue 17): every fault gives a clear error and loses nothing."""
