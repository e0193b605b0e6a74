"""One script per study; each is a thin composition of `lab` calls and a config."""
