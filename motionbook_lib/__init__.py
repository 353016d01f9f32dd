"""motionbook: a notebook-first workbench for large motion models.

Data flow, as in the module names: ``skeleton`` / ``rotations`` (kinematics) ->
``features`` (SMPL-D135, HumanML3D-263) -> tokenizer -> language model.
"""

__version__ = "0.1.0"
