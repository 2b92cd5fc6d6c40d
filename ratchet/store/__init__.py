"""Our own persistence: every table (`tables`), the run ledger (`ledger`), the engine (`database`)."""
