"""The printable CompStat-style bulletin: counts, areas, hot spots, forecast, near repeats, spikes, CCTV alerts."""
