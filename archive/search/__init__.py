"""Full-text search: extraction, Chinese segmentation and the encrypted FTS5 index (§6a).

Import the modules themselves (`archive.search.index`, `.extract`, …): this package imports
nothing, so an extraction worker (a spawned process that imports `archive.search.extract`)
does not load the index, SQLCipher and the query code it never uses.
"""
