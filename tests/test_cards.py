"""The checked-in synthetic data card is what the code generates for the default build."""

from __future__ import annotations

from pathlib import Path

import pytest

from motionbook_lib.data.__main__ import main as data_main
from motionbook_lib.data.cards import check_card, render_card
from motionbook_lib.data.store import MotionStore

CARD = Path(__file__).resolve().parents[1] / "data_cards" / "synthetic.md"


@pytest.fixture(scope="module")
def default_store(tmp_path_factory) -> MotionStore:
    # the build command written in the card itself
    out = tmp_path_factory.mktemp("card") / "synthetic-1k"
    rc = data_main(["build", "--source", "synthetic", "--n", "1000", "--out", str(out), "--seed", "0", "--no-progress"])
    assert rc == 0
    return MotionStore(out)


def test_checked_in_card_matches_default_build(default_store):
    problems = check_card(default_store, CARD)
    assert not problems, "data_cards/synthetic.md is stale; regenerate it with\n" + "\n".join(
        ["python -m motionbook_lib.data build --source synthetic --n 1000 --out data/synthetic-1k --seed 0",
         "python -m motionbook_lib.data card data/synthetic-1k --out data_cards/synthetic.md", *problems[:10]]
    )  # fmt: skip


def test_card_has_required_sections(default_store):
    text = render_card(default_store)
    for section in ("## Source", "## Licence", "## Fields", "## Skeleton, units and axes", "## Splits", "## Counts",
                    "## Known limits", "## Actions", "## Lengths", "## Static motion"):  # fmt: skip
        assert section in text
    assert "| 21 | right_wrist | right_elbow | right_arm |" in text
    assert "Y up" in text and "20 fps" in text


def test_check_card_reports_a_changed_number(default_store, tmp_path):
    card = tmp_path / "card.md"
    card.write_text(render_card(default_store).replace("| motions | 1,000 |", "| motions | 1,001 |"))
    problems = check_card(default_store, card)
    assert len(problems) == 1 and "1,001" in problems[0]
    assert check_card(default_store, tmp_path / "missing.md") == [f"{tmp_path / 'missing.md'}: missing"]


def test_card_of_imported_store_states_the_source_splits(tmp_path):
    from motionbook_lib.data.importers import HumanML3DConfig, import_motions, make_demo_humanml3d

    make_demo_humanml3d(tmp_path / "h3d", n=6)
    import_motions("humanml3d", tmp_path / "h3d", tmp_path / "store", HumanML3DConfig(), progress=False)
    card = (tmp_path / "store" / "DATA_CARD.md").read_text()
    assert "Splits given by the source" in card
    assert "Deterministic by a hash" not in card


def test_length_histogram_counts_every_clip_however_long(tmp_path):
    """Clips of 10 s and more (AMASS and BVH captures run for minutes) have their own rows in the card."""
    import numpy as np

    from motionbook_lib.data.store import StoreWriter

    with StoreWriter(tmp_path / "s", source="direct") as w:
        for i, frames in enumerate((30, 200, 300, 1300)):  # 1.5 s, exactly 10 s, 15 s, 65 s at 20 fps
            w.add_features(f"m{i}", np.zeros((frames, 135), np.float32))
    text = render_card(MotionStore(tmp_path / "s"))
    for row in ("| 0-2 s | 1 |", "| 8-10 s | 0 |", "| 10-20 s | 2 |", "| 20-60 s | 0 |", "| 60 s or more | 1 |"):
        assert row in text
