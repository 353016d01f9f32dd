"""Run by tests/test_lm_train.py (under torchrun too): train M0 a few steps, record losses and the weight digest."""

import json
import sys
from pathlib import Path

import torch.distributed as dist

from motionbook_lib.lm import M0Config, M0TrainConfig, train_m0


def main() -> None:
    store, tok, out, batch_size = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    cfg = M0TrainConfig(stage=2, batch_size=batch_size, lr=2e-3, max_frames=48, ckpt_every=0, log_every=1,
                        text_vocab_size=400, cpu_threads=1,
                        model=M0Config(size="tiny", max_positions=1024))  # fmt: skip
    result = train_m0(cfg, store, tok, out, steps=4, progress=False)
    rank = dist.get_rank() if dist.is_initialized() else 0
    (out / f"rank{rank}.json").write_text(json.dumps({"losses": result.losses, "digest": result.weights_digest}))


if __name__ == "__main__":
    main()
