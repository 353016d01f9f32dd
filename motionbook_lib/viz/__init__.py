"""Drawing motions: plotly skeletons and feature heatmaps (a pythreejs player comes later)."""

from motionbook_lib.viz.plotly_skeleton import feature_heatmap, skeleton_figure

__all__ = ["feature_heatmap", "skeleton_figure"]
