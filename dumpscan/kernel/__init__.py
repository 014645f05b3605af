"""Kernel-structure readers: plain records out of a KernelView, one structure family each."""
