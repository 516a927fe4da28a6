"""PDF handling: watermarked view copies, the 归档章, PDF/A renditions, fonts.

fontTools (behind font subsetting and pikepdf's PDF/A validator) logs English warnings such
as "'modified' timestamp seems very low" about fonts that are fine: they reached the clerk's
terminal on every stamp. Only its errors are let through.
"""

import logging

logging.getLogger("fontTools").setLevel(logging.ERROR)
