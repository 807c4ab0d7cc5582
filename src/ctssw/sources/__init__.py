"""Sources: locate and parse exports into canonical tables (the store loads them: ctssw.store.LOADERS)."""
