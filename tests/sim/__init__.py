"""A model-based simulation of whole sweeps: Foreman, people and faults at random, the
real sweeper with its real adapters against the stand-ins, every promise checked."""
