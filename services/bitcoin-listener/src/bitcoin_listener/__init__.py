"""bitcoin-listener: the confirmed balances of the verified Bitcoin addresses, from a node."""
