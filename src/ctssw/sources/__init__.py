"""Sources: locate and read exports. Each reader yields SQL scans the store loads."""
