"""Scenarios above the services: the main job (the seed's world through the seed's
pipeline, then ours), the fault drills, and the oracle simulator they play. They import
the services and the local stack (`devstack`); nothing imports them."""
