"""The encrypted catalogue (SQLCipher): records, components, objects, numbering, users."""
