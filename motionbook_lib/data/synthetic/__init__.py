"""Deterministic procedural motion corpus, so that every notebook runs with no downloads.

``generate_motion(index, config)`` builds motion ``index`` from ``numpy.random.default_rng([seed, index])``
alone: any slice of a million-motion corpus can be built on any machine, in any order, and comes out
bit-identical. Each motion is a :class:`~motionbook_lib.motion.Motion` with MotionLib-style hierarchical
text in ``meta`` (a whole-body caption and one line per body part, each with paraphrases).

How a motion is made
--------------------
1. Body: betas ~ N(0, ``betas_std``) clipped to +-``betas_clip``; beta 0 (stature) is then solved so that
   the standing head joint lands at a height drawn from ``head_height`` (it is stored in ``Motion.betas``).
2. Plan: 1-3 segments. Each has a base action (locomotion, whole-body, leg action, or standing) and
   optionally an arm action overlaid on it (walk while waving the right hand). Every segment starts and
   ends standing on both feet, so segments chain without jumps.
3. Each segment writes per-frame *targets*: the pelvis path and tilt, where each foot is (a planted foot
   stays exactly where it was put, rolling about the heel after touch-down and about the ball of the
   foot, then the toe tips, before lift-off; a swinging foot follows a smooth arc with a least toe
   clearance, its ankle angle taken relative to the shank in mid-swing), spine and neck angles, and
   where each wrist should be relative to its shoulder (heading frame).
4. Solve: the pelvis is lowered wherever a planted (or landing) foot would otherwise be out of reach of
   a knee bent at least 5 degrees; closed-form two-bone inverse kinematics then turns foot targets into
   hip, knee and ankle rotations (knee a pure hinge) and wrist targets into shoulder and elbow rotations
   (elbow a pure hinge); a second pass lifts any swinging toe that would scrape the floor. Arm actions
   blend in and out over 0.5 s by moving the wrist target along a spherical Bezier path that leans out
   and forward (so an arm goes from hanging to overhead through the side, never through the body);
   a swinging foot's world pitch and its shank-relative angle are blended by slerp.

Measured on motions 2000-2999 with :mod:`motionbook_lib.data.quality`: no joint outside
:data:`JOINT_LIMITS`, no joint below its rest height above the floor, foot skating 0.006 m/s on average
(at most 0.04 m/s per clip). On single-action clips: walking 1.0-1.55 m/s at 99-123 steps/min with
55-72 degrees (mean 65) of peak knee flexion in swing; jogging 2.0-2.8 m/s and running 3.0-4.0 m/s at
152-179 steps/min with 92-127 degrees; standing head height 1.53-1.76 m.
About 90 motions/s on one core.

Conventions (as in :mod:`motionbook_lib.skeleton`): Y up, metres, a body at rest faces +Z with its left
side at +X. The heading (yaw) is the angle about +Y: 0 faces +Z, +pi/2 faces +X. *Turning left* means
the heading increases, which is counterclockwise seen from above (+Y). "Forward" is the facing
direction ``(sin yaw, 0, cos yaw)``; "walks backwards" means the root moves against it; "to the left"
is ``(cos yaw, 0, -sin yaw)``.

Labels are ``walk, jog, run, walk_backward, side_step_{left,right}, turn_{left,right},
walk_circle_{left,right}`` (locomotion), ``jump, squat, lunge_{left,right}, bow, sit_stand, crouch,
stretch, dance`` (whole body), ``wave_*, punch_*, raise_*, clap, reach_*, throw_*`` (arms; * is
left, right or both) and ``kick_*, knee_raise_*`` (legs), plus ``stand``. "Step up" is realised as a
knee raise: with no platform in the scene a foot cannot stand above the floor.
"""

from motionbook_lib.data.quality import JOINT_LIMITS
from motionbook_lib.data.synthetic.config import ACTION_FAMILIES, PART_NAMES, SyntheticConfig, label_family
from motionbook_lib.data.synthetic.generate import generate_corpus, generate_motion, generator_fingerprint

# the public home of the generator: stores record "module.name" of the function that built them (and pickle it to
# build workers), which stays what it was before the generator became a package
generate_motion.__module__ = __name__

__all__ = [
    "ACTION_FAMILIES",
    "JOINT_LIMITS",
    "PART_NAMES",
    "SyntheticConfig",
    "generate_corpus",
    "generate_motion",
    "generator_fingerprint",
    "label_family",
]
