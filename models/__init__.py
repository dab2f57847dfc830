"""Pure ``torch.nn`` modules for CrimeViz: CDNA, MGFN and DevianceNet."""
