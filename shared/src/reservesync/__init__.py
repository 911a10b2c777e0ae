"""ReserveSync shared library: the contract every service agrees on."""
