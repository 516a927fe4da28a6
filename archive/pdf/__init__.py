"""PDF handling: watermarked view copies (pikepdf stamping, reportlab overlays)."""
