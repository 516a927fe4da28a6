"""sgz — records archive and document generator for township social-work service stations."""

__version__ = "0.1.0"
