"""Choosing the cut: candidate cuts with measured figures, and the objectives that pick one."""
