"""Hierarchical text of a generated clip: whole-body captions and one line per body part."""

from __future__ import annotations

import numpy as np

from motionbook_lib.data.synthetic.body import _Seg
from motionbook_lib.data.synthetic.config import _SIDE, PART_NAMES

# ---------------------------------------------------------------- text


_SUBJECTS = (
    "a person",
    "someone",
    "a man",
    "a woman",
    "the person",
    "a figure",
    "an individual",
    "the man",
    "the woman",
    "a human",
)
_TIMES = {1: "once", 2: "twice", 3: "three times", 4: "four times", 5: "five times", 6: "six times"}


def _speed_word(v: float, lo: float, hi: float, slow: list[str], mid: list[str], fast: list[str]) -> list[str]:
    return slow if v < lo else fast if v > hi else mid


def _seg_text(seg: _Seg) -> dict:
    """Whole-body verb phrases (>= 3) and per-part phrases (>= 2 each) of one base action."""
    p, a = seg.params, seg.action
    parts: dict[str, list[str]] = {}

    def both_legs(x: list[str]) -> None:
        for s in _SIDE:
            parts[f"{s}_leg"] = [y.format(side=s) for y in x]

    def both_arms(x: list[str]) -> None:
        for s in _SIDE:
            parts[f"{s}_arm"] = [y.format(side=s) for y in x]

    arms_hang = ["the {side} arm hangs relaxed at the side", "the {side} arm stays down by the body"]
    legs_planted = ["the {side} leg stays planted on the ground", "the {side} foot stays in place"]
    if a in ("walk", "walk_circle"):
        v = p["speed"]
        adv = _speed_word(
            v,
            1.15,
            1.42,
            [" slowly", " at a relaxed pace", " leisurely"],
            ["", " at a normal pace", " steadily"],
            [" briskly", " quickly", " at a brisk pace"],
        )
        if a == "walk":
            whole = [
                f"walks forward{adv[0]}",
                f"walks straight ahead{adv[1]}",
                f"takes several steps forward{adv[2]}",
                f"{'strolls' if v < 1.3 else 'strides'} forward{adv[1]}",
            ]
        else:
            d = "left" if p["turn_deg"] > 0 else "right"
            rot = "counterclockwise" if d == "left" else "clockwise"
            turn = abs(p["turn_deg"])
            shape = "a full circle" if turn >= 300 else "a half circle" if turn >= 160 else "a curve"
            whole = [
                f"walks in {shape} to the {d}",
                f"walks around in {shape}, turning {d}",
                f"walks {rot} along {shape}",
                f"follows {shape} to the {d} on foot",
            ]
        both_legs(
            [
                "the {side} leg steps forward in a steady walking rhythm",
                "the {side} leg swings through and plants the heel with each stride",
            ]
        )
        both_arms(
            ["the {side} arm swings back and forth naturally", "the {side} arm swings loosely in time with the steps"]
        )
        parts["torso"] = ["the torso stays upright and moves forward", "the upper body remains upright while walking"]
        if a == "walk_circle":
            parts["torso"] = [
                f"the torso stays upright and gradually turns to the {d}",
                f"the upper body keeps facing along the path as it curves {d}",
            ]
    elif a == "jog":
        whole = [
            "jogs forward",
            "jogs ahead at an easy pace",
            "runs forward at a comfortable jog",
            "jogs straight ahead",
        ]
        both_legs(
            [
                "the {side} leg strides with a light jogging bounce",
                "the {side} knee bends high as the leg swings through",
            ]
        )
        both_arms(["the {side} arm is bent at the elbow and pumps in rhythm", "the {side} arm swings bent at the side"])
        parts["torso"] = ["the torso leans slightly forward", "the upper body tilts a little forward while jogging"]
    elif a == "run":
        fast = p["speed"] > 3.7
        whole = [
            "runs forward quickly" if fast else "runs forward",
            "sprints ahead" if fast else "runs straight ahead",
            "dashes forward",
            "runs forward at speed" if fast else "breaks into a run forward",
        ]
        both_legs(
            [
                "the {side} leg drives forward with a high knee and the heel kicks up behind",
                "the {side} leg pushes off hard and folds tightly as it swings through",
            ]
        )
        both_arms(
            [
                "the {side} arm pumps forcefully, bent at the elbow",
                "the {side} arm drives back and forth bent at about a right angle",
            ]
        )
        parts["torso"] = ["the torso leans forward", "the upper body is tilted forward into the run"]
    elif a == "walk_backward":
        whole = [
            "walks backwards",
            "steps backward",
            "backs up slowly" if p["speed"] < 0.7 else "backs up",
            "moves backwards step by step",
        ]
        both_legs(
            ["the {side} leg reaches back and steps behind the body", "the {side} foot steps backward, toes first"]
        )
        both_arms(["the {side} arm swings slightly", "the {side} arm hangs and sways a little"])
        parts["torso"] = [
            "the torso stays upright while moving backwards",
            "the upper body faces forward as the body retreats",
        ]
    elif a == "side_step":
        d = p["direction"]
        whole = [
            f"side-steps to the {d}",
            f"shuffles sideways to the {d}",
            f"steps sideways to the {d}",
            f"moves to the {d} with side steps",
        ]
        o = "right" if d == "left" else "left"
        parts[f"{d}_leg"] = [f"the {d} leg steps out to the {d}", f"the {d} foot leads each side step"]
        parts[f"{o}_leg"] = [
            f"the {o} leg follows and closes the stance",
            f"the {o} foot steps in next to the {d} foot",
        ]
        both_arms(arms_hang)
        parts["torso"] = [
            "the torso keeps facing forward while moving sideways",
            "the upper body stays upright and faces ahead",
        ]
    elif a == "turn":
        d = "left" if p["turn_deg"] > 0 else "right"
        deg = int(round(abs(p["turn_deg"]) / 45.0) * 45)
        if abs(p["turn_deg"]) >= 150:
            whole = [
                f"turns around to the {d}",
                f"turns around in place toward the {d}",
                f"spins around to the {d} on the spot",
                f"turns about {deg} degrees to the {d}",
            ]
        else:
            whole = [
                f"turns to the {d} in place",
                f"turns {d} on the spot",
                f"rotates to the {d} by about {deg} degrees",
                f"pivots to the {d}",
            ]
        both_legs(
            [f"the {{side}} foot steps around as the body turns {d}", "the {side} leg makes small stepping turns"]
        )
        both_arms(arms_hang)
        parts["torso"] = [f"the torso rotates to the {d}", f"the upper body turns {d} with the steps"]
    elif a == "jump":
        r = p["reps"]
        times = "" if r == 1 else " " + _TIMES[r]
        if p["forward"] > 0:
            whole = [
                f"jumps forward{times}",
                f"leaps forward with both feet{times}",
                f"does {r} forward jump{'s' if r > 1 else ''}",
                f"jumps ahead{times}",
            ]
        else:
            whole = [
                f"jumps in place{times}",
                f"jumps up{times}",
                f"jumps straight up{times}",
                f"does {r} vertical jump{'s' if r > 1 else ''}",
            ]
        both_legs(
            [
                "the {side} leg bends, pushes off the ground and lands softly",
                "the {side} knee crouches, then extends for the jump",
            ]
        )
        both_arms(["the {side} arm swings back and then up with the jump", "the {side} arm swings to help the jump"])
        parts["torso"] = [
            "the torso leans forward in the crouch and straightens in the air",
            "the upper body bends slightly before each take-off",
        ]
    elif a == "squat":
        r = p["reps"]
        whole = [
            f"squats down{'' if r == 1 else ' ' + _TIMES[r]}",
            f"does {r} squat{'s' if r > 1 else ''}",
            f"bends the knees into a squat{'' if r == 1 else ' ' + _TIMES[r]}",
            "squats down and stands back up" if r == 1 else f"squats {_TIMES[r]} in a row",
        ]
        both_legs(
            [
                "the {side} knee bends deeply and straightens again",
                "the {side} leg folds into the squat and extends back up",
            ]
        )
        if p["arms"] == "forward":
            both_arms(
                ["the {side} arm reaches forward for balance", "the {side} arm lifts to the front while squatting"]
            )
        else:
            both_arms(
                ["the {side} hand is held in front of the chest", "the {side} arm is bent with the hand near the chest"]
            )
        parts["torso"] = [
            "the torso leans forward as the hips go down",
            "the upper body tilts forward during each squat",
        ]
    elif a == "lunge":
        f = p["leg"]
        o = "right" if f == "left" else "left"
        whole = [
            f"lunges forward with the {f} leg",
            f"steps forward into a lunge on the {f} leg",
            f"does a forward lunge with the {f} foot",
            f"lunges forward on the {f} leg and steps back",
        ]
        parts[f"{f}_leg"] = [
            f"the {f} leg steps forward and bends deeply at the knee, then steps back",
            f"the {f} foot strides out in front and the {f} knee bends",
        ]
        parts[f"{o}_leg"] = [
            f"the {o} leg stays behind with the knee dropping toward the floor and the heel raised",
            f"the {o} knee lowers toward the ground behind the body",
        ]
        both_arms(arms_hang)
        parts["torso"] = [
            "the torso stays upright and lowers with the lunge",
            "the upper body remains upright and sinks down",
        ]
    elif a == "bow":
        deep = p["depth_deg"] > 45
        whole = [
            "bows deeply" if deep else "bows",
            "bends forward at the waist in a bow",
            "takes a bow",
            "bows forward and straightens up again",
        ]
        both_legs(["the {side} leg stays straight and planted", "the {side} foot stays in place during the bow"])
        both_arms(["the {side} arm hangs down as the body bends", "the {side} arm dangles toward the floor"])
        parts["torso"] = [
            "the torso bends forward at the hips and comes back up",
            "the upper body folds forward" + (" deeply" if deep else "") + " and rises again",
        ]
    elif a == "sit_stand":
        whole = [
            "sits down and then stands back up",
            "lowers into a sitting position and gets up again",
            "sits down as if on a chair, then rises",
            "takes a seat and stands up again",
        ]
        both_legs(
            [
                "the {side} knee bends to about a right angle while sitting, then straightens",
                "the {side} leg bends to sit down and extends to stand up",
            ]
        )
        both_arms(["the {side} hand rests on the thigh while seated", "the {side} arm moves to the lap while sitting"])
        parts["torso"] = [
            "the torso leans forward to sit down and to stand up",
            "the upper body tips forward, sits upright, then tips forward again to rise",
        ]
    elif a == "crouch":
        whole = [
            "crouches down and stands back up",
            "crouches low for a moment",
            "gets down into a crouch and rises again",
            "squats down low on the toes, then stands up",
        ]
        both_legs(["the {side} leg folds deeply with the heel lifted", "the {side} knee bends fully while crouching"])
        both_arms(["the {side} arm reaches forward and down", "the {side} arm hangs forward toward the floor"])
        parts["torso"] = ["the torso bends forward while crouching", "the upper body leans over the knees"]
    elif a == "stretch":
        if p["style"] == "overhead":
            f = p["first_side"]
            o = "right" if f == "left" else "left"
            whole = [
                f"stretches both arms overhead and leans to the {f} and then to the {o}",
                "reaches up high and bends from side to side",
                "stretches the arms up and sways the body sideways",
                f"raises both arms and stretches to the {f}, then to the {o}",
            ]
            both_arms(
                ["the {side} arm is stretched straight up overhead", "the {side} arm reaches high above the head"]
            )
            parts["torso"] = [f"the torso bends to the {f} and then to the {o}", f"the upper body leans {f}, then {o}"]
            both_legs(legs_planted)
        else:
            whole = [
                "bends down reaching toward the toes",
                "stretches by reaching down toward the feet",
                "folds forward and reaches for the toes",
                "does a forward bend toward the floor",
            ]
            both_arms(["the {side} arm reaches down toward the feet", "the {side} hand stretches toward the toes"])
            parts["torso"] = [
                "the torso folds forward and down, then rolls back up",
                "the upper body bends all the way forward",
            ]
            both_legs(["the {side} leg stays straight", "the {side} leg stays extended and planted"])
    elif a == "dance":
        extra = {
            "sway": ("swaying the arms", "the {side} arm sways from side to side"),
            "pump": ("pumping the arms overhead", "the {side} arm pumps up above the head"),
            "clap": ("clapping to the beat", "the {side} hand claps against the other in front of the chest"),
        }[p["arms"]]
        whole = [
            f"dances, stepping from side to side and {extra[0]}",
            f"dances with side steps while {extra[0]}",
            "dances to a beat with step-touches",
            f"grooves from side to side, {extra[0]}",
        ]
        both_legs(
            ["the {side} leg steps out sideways and back in rhythm", "the {side} foot taps side to side to the beat"]
        )
        both_arms([extra[1], extra[1] + " in rhythm"])
        parts["torso"] = ["the hips and torso sway to the rhythm", "the upper body bounces and sways with the steps"]
    elif a == "kick":
        f = p["leg"]
        o = "right" if f == "left" else "left"
        r = p["reps"]
        high = p["height"] > 0.8
        whole = [
            f"kicks forward with the {f} leg{'' if r == 1 else ' ' + _TIMES[r]}",
            f"does a {'high ' if high else ''}front kick with the {f} leg",
            f"kicks the {f} foot out in front{'' if r == 1 else ' ' + _TIMES[r]}",
            f"throws a {f}-legged kick",
        ]
        parts[f"{f}_leg"] = [
            f"the {f} leg lifts, snaps forward in a kick and comes back down",
            f"the {f} knee comes up and the {f} foot kicks out forward",
        ]
        parts[f"{o}_leg"] = [f"the {o} leg supports the body", f"the {o} foot stays planted for balance"]
        both_arms(["the {side} arm is raised in front in a guard", "the {side} fist is held up for balance"])
        parts["torso"] = ["the torso leans back slightly during the kick", "the upper body tilts back as the leg kicks"]
    elif a == "knee_raise":
        m = p["leg"]
        r = p["reps"]
        if m == "both":
            whole = [
                "alternately raises each knee up high",
                "marches in place with high knees",
                "lifts the left and right knees in turn",
                "does alternating knee raises",
            ]
            both_legs(
                ["the {side} knee lifts up to hip height in turn", "the {side} leg raises the knee high and lowers it"]
            )
        else:
            o = "right" if m == "left" else "left"
            tt = "" if r == 1 else " " + _TIMES[r]
            whole = [
                f"raises the {m} knee up high{tt}",
                f"lifts the {m} knee to hip height{tt}",
                f"steps up with the {m} knee{tt}",
                f"brings the {m} knee up{tt}",
            ]
            parts[f"{m}_leg"] = [
                f"the {m} knee lifts up to hip height and lowers again",
                f"the {m} leg raises the knee high",
            ]
            parts[f"{o}_leg"] = [f"the {o} leg supports the body", f"the {o} foot stays planted"]
        both_arms(arms_hang)
        parts["torso"] = ["the torso stays upright", "the upper body remains upright and balanced"]
    else:  # stand
        whole = ["stands still", "stands in place", "remains standing", "stands quietly"]
        both_legs(["the {side} leg stands still", "the {side} foot rests on the ground"])
        both_arms(arms_hang)
        parts["torso"] = ["the torso stays upright", "the upper body is still"]
    return {"whole": whole, "parts": parts}


def _overlay_text(ov: dict) -> dict:
    """Main-verb phrases, gerund phrases and arm part phrases of an arm action."""
    k, s, p = ov["action"], ov["side"], ov["params"]
    hand = "both hands" if s == "both" else f"the {s} hand"
    arm = "both arms" if s == "both" else f"the {s} arm"
    sides = ("left", "right") if s == "both" else (s,)
    parts: dict[str, list[str]] = {}
    if k == "wave":
        main = [
            f"waves {hand}",
            f"waves {hand} above the shoulder",
            f"raises {hand} and waves",
            f"waves hello with {hand}",
        ]
        ger = [f"waving {hand}", f"waving {hand} in the air", f"holding up {hand} and waving"]
        for x in sides:
            parts[f"{x}_arm"] = [
                f"the {x} arm is raised above the shoulder and the hand waves side to side",
                f"the {x} hand waves high in the air",
            ]
    elif k == "punch":
        n = p["punches"]
        if s == "both":
            main = [
                "throws alternating punches with both fists",
                f"punches forward {n} time{'s' if n > 1 else ''}, alternating hands",
                "boxes with left and right punches",
                "throws quick punches with both hands",
            ]
            ger = ["throwing punches with both fists", "punching with alternating hands", "boxing"]
            for x in sides:
                parts[f"{x}_arm"] = [
                    f"the {x} arm alternates between a guard and a straight punch forward",
                    f"the {x} fist punches straight out and returns to the chin",
                ]
        else:
            o = "right" if s == "left" else "left"
            main = [
                f"punches forward with the {s} fist" + ("" if n == 1 else f" {_TIMES[n]}"),
                f"throws {n} punch{'es' if n > 1 else ''} with the {s} hand",
                f"jabs forward with the {s} arm",
                f"strikes forward with the {s} fist",
            ]
            ger = [f"punching with the {s} fist", f"throwing {s}-handed punches", f"jabbing with the {s} arm"]
            parts[f"{s}_arm"] = [
                f"the {s} arm extends straight forward in a punch and pulls back",
                f"the {s} fist punches out in front",
            ]
            parts[f"{o}_arm"] = [
                f"the {o} arm stays bent with the fist up near the chin",
                f"the {o} hand guards the face",
            ]
    elif k == "raise":
        where = {"overhead": "above the head", "forward": "forward to shoulder height", "sideways": "out to the side"}[
            p["style"]
        ]
        main = [
            f"raises {arm} {where}",
            f"lifts {arm} {where}",
            f"puts {arm} up {where}" if p["style"] == "overhead" else f"holds {arm} out {where.replace('out ', '')}",
            f"raises {arm} {where} and lowers {'them' if s == 'both' else 'it'} again",
        ]
        ger = [f"raising {arm} {where}", f"holding {arm} {where}", f"lifting {arm} {where}"]
        for x in sides:
            parts[f"{x}_arm"] = [f"the {x} arm lifts {where} and then lowers", f"the {x} arm is raised {where}"]
    elif k == "clap":
        n = p["claps"]
        main = [
            "claps the hands",
            f"claps {n} times" if n > 1 else "claps once",
            "claps in front of the chest",
            "applauds with both hands",
        ]
        ger = ["clapping the hands", "clapping in front of the chest", "applauding"]
        for x in ("left", "right"):
            parts[f"{x}_arm"] = [
                f"the {x} hand meets the other hand in front of the chest, clapping",
                f"the {x} arm moves in and out to clap",
            ]
    elif k == "reach":
        where = {"forward": "forward", "up": "up high", "out": f"out to the {s}"}[p["style"]]
        main = [
            f"reaches {where} with the {s} hand",
            f"stretches the {s} arm {where}",
            f"reaches the {s} hand {where}",
            f"extends the {s} arm {where}",
        ]
        ger = [f"reaching {where} with the {s} hand", f"stretching the {s} arm {where}"]
        parts[f"{s}_arm"] = [f"the {s} arm extends {where} and comes back", f"the {s} hand reaches {where}"]
    else:  # throw
        main = [
            f"throws something overhand with the {s} arm",
            f"makes an overhand throw with the {s} hand",
            f"winds up and throws with the {s} arm",
            f"throws a ball with the {s} hand",
        ]
        ger = [f"throwing with the {s} arm", f"making an overhand throw with the {s} hand"]
        parts[f"{s}_arm"] = [
            f"the {s} arm winds back behind the head and whips forward",
            f"the {s} hand draws back and throws forward",
        ]
    return {"main": main, "gerund": ger, "parts": parts}


def _pick(rng: np.random.Generator, xs: list[str], k: int) -> list[str]:
    """k items of xs in a random order (repeating only when xs is shorter)."""
    order = list(rng.permutation(len(xs)))
    while len(order) < k:
        order += list(rng.permutation(len(xs)))
    return [xs[i] for i in order[:k]]


def _captions(rng: np.random.Generator, segs: list[_Seg]) -> tuple[list[str], dict[str, list[str]]]:
    """Whole-body paraphrases (4) and part paraphrases (3 each) for a clip."""
    n_cap = 4
    per_seg: list[list[str]] = []
    part_alts: list[dict[str, list[str]]] = []
    if len(segs) > 1:
        segs = [s for s in segs if not s.params.get("quiet")]
    for seg in segs:
        base = _seg_text(seg)
        parts = dict(base["parts"])
        if seg.overlay is not None:
            ov = _overlay_text(seg.overlay)
            if seg.action == "stand":
                phr = ov["main"]
            else:
                phr = [
                    f"{b} while {g}"
                    for b, g in zip(_pick(rng, base["whole"], n_cap), _pick(rng, ov["gerund"], n_cap), strict=True)
                ]
            parts.update(ov["parts"])
        else:
            phr = base["whole"]
        per_seg.append(_pick(rng, phr, n_cap))
        part_alts.append(parts)
    subj = _pick(rng, list(_SUBJECTS), n_cap)
    captions = []
    for c in range(n_cap):
        ph = [s[c] for s in per_seg]
        S = subj[c][0].upper() + subj[c][1:]
        if len(ph) == 1:
            text = [f"{S} {ph[0]}.", f"{S} {ph[0]}.", f"{S} {ph[0]}.", f"{S} {ph[0]}."][c]
        elif c % 4 == 0:
            text = (
                f"{S} {', then '.join(ph[:-1])}, and finally {ph[-1]}."
                if len(ph) > 2
                else f"{S} {ph[0]}, then {ph[1]}."
            )
        elif c % 4 == 1:
            text = f"{S} first {ph[0]} and then {' and then '.join(ph[1:])}."
        elif c % 4 == 2:
            rest = " ".join(f"After that, the {('person', 'figure', 'body')[i % 3]} {x}." for i, x in enumerate(ph[1:]))
            text = f"{S} {ph[0]}. {rest}"
        else:
            text = f"{S} {ph[0]}, " + ", ".join(f"then {x}" for x in ph[1:]) + "."
        captions.append(text)
    if len(segs) == 1:  # add MotionLib-style structure to one paraphrase for variety
        pa = part_alts[0]
        captions[3] = (
            f"{captions[3][:-1]}. Upper body: {pa['left_arm'][0]}; {pa['right_arm'][0]}. "
            f"Lower body: {pa['left_leg'][0]}; {pa['right_leg'][0]}."
        )
    part_caps: dict[str, list[str]] = {}
    for part in PART_NAMES:
        alts = []
        runs: list[list[str]] = []  # consecutive segments saying the same about this part are merged
        for pa in part_alts:
            if not runs or set(pa[part]) != set(runs[-1]):
                runs.append(pa[part])
        for c in range(3):
            pieces = []
            for opts in runs:
                pieces.append(opts[(c + int(rng.integers(len(opts)))) % len(opts)])
            line = ", then ".join(pieces) if c != 1 else "; afterwards ".join(pieces)
            alts.append(line[0].upper() + line[1:] + ".")
        # make sure the paraphrases are distinct
        seen: list[str] = []
        for x in alts:
            if x not in seen:
                seen.append(x)
        if len(seen) < 2:
            alt = " and later ".join(r[-1] for r in runs) if len(runs) > 1 else runs[0][-1] + " throughout"
            seen.append(alt[0].upper() + alt[1:] + ".")
        if len(seen) < 2:
            seen.append(seen[0][:-1] + " the whole time.")
        part_caps[part] = seen
    return captions, part_caps


