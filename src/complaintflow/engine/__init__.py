"""The engine: the public facade over definitions, store, calendars and clock."""
