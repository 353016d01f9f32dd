"""Drawing motions: plotly skeletons and feature heatmaps, and a pythreejs mannequin player."""

from motionbook_lib.viz.mannequin_mesh import BodyMesh, body_mesh, bone_tracks, skin_r97
from motionbook_lib.viz.player import MotionPlayer, export_html, lane_offsets, motion_player, prepare_clips
from motionbook_lib.viz.plotly_skeleton import feature_heatmap, skeleton_figure

__all__ = [
    "BodyMesh",
    "MotionPlayer",
    "body_mesh",
    "bone_tracks",
    "export_html",
    "feature_heatmap",
    "lane_offsets",
    "motion_player",
    "prepare_clips",
    "skeleton_figure",
    "skin_r97",
]
