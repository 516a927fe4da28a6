"""Filesystem primitives every layer uses: durable atomic writes and inter-process locks."""
