"""Anonymisation of exports for employer leaders (附件2 八.8): detection, docx, PDF."""
