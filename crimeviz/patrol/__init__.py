"""Patrol plans: beats and routes for patrol units chosen on a risk surface, saved, exported and reviewed."""
