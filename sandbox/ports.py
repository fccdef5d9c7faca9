"""The ports the emulators listen on unless told otherwise (``syncd sandbox hubspot`` and
``syncd sandbox salesforce``), apart from their servers: the CLI names them in its options
without importing the emulators (a fifth of every command's start)."""

HUBSPOT_PORT = 8765
SALESFORCE_PORT = 8766
