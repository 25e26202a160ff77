"""A sharded parameter server (Li et al. OSDI'14): shards hold parameter ranges and optimiser state."""
