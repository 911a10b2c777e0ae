"""The world as the health service reads it itself: the chain and the oracle."""
