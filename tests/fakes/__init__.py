"""Local fake vendor servers that follow the vendors' public API documents, for connector tests."""
