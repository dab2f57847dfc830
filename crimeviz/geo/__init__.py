"""Polygon layers (beats, divisions, wards, custom zones): reading, checking, repair, reprojection to
WGS84, area, and the point-in-polygon join of incidents. Plain geometry: nothing here touches the store."""
