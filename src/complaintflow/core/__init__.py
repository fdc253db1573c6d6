"""Domain core: pure functions from (complaint snapshot, event) to a Change."""
