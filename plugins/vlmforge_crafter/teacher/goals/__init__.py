"""The teacher's goals (survival, tech tree, garden)."""
