"""Two-process data-parallel training on the CPU with the gloo backend (what torchrun does on GPUs)."""

import dataclasses

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import fake_head
    import scenes
    import vasa3d.head as head_mod
    from vasa3d.train import TrainConfig, Trainer

    for name in ("HeadParams", "params_from_latent", "build_head", "REGIONS"):
        setattr(head_mod, name, getattr(fake_head, name))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        student, data, _ = scenes.student_and_data(fake_head.EllipsoidHead(), size=40, n_frames=8, n_gaussians=400)
        cfg = dataclasses.replace(TrainConfig.preset("demo"), iterations=3, log_every=1, device="cpu")
        trainer = Trainer(student, data, cfg, quiet=True)
        avatar = trainer.run()
        frames = torch.tensor([float(trainer.history[0]["loss"])])
        _, tensors = avatar.export()
        tensors["first_loss"] = frames
        save_file({k: v.contiguous() for k, v in tensors.items()}, f"{out_dir}/rank{rank}.safetensors")
    finally:
        dist.destroy_process_group()


def test_two_ranks_stay_in_sync_and_differ_from_one(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    a = load_file(str(tmp_path / "rank0.safetensors"))
    b = load_file(str(tmp_path / "rank1.safetensors"))
    # each rank trained on its own frames (different losses) but applied the averaged gradient
    assert float(a["first_loss"]) != float(b["first_loss"])
    for k in a:
        if k != "first_loss":
            assert torch.equal(a[k], b[k]), k
