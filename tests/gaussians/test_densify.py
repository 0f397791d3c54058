import torch

import fake_head
from vasa3d.gaussians import AvatarConfig, GaussianAvatar
from vasa3d.gaussians.densify import DensifyStrategy


def _setup(head):
    head, fit, analysis = fake_head.portrait_scene(48, head)
    avatar = GaussianAvatar.from_portrait(head, fit, analysis, AvatarConfig(num_gaussians=400, hidden=16))
    groups = [{"name": k, "params": [v], "lr": 1e-3} for k, v in avatar.gaussian_tensors().items()]
    opt = torch.optim.Adam(groups)
    return avatar, opt


def test_clone_split_prune_keep_parents_and_optimizer_state(head):
    avatar, opt = _setup(head)
    n = avatar.n_gaussians
    with torch.no_grad():
        avatar.log_scales[:10] = 0.0  # 10 large Gaussians (1 triangle size)
        avatar.log_scales[10:] = -2.0
        avatar.opacity_logits[390:] = -10.0  # 10 transparent ones
    # one optimizer step so Adam has state to carry
    loss = sum(p.sum() for p in avatar.gaussian_tensors().values())
    loss.backward()
    opt.step()
    old_parent = avatar.parent.clone()
    old_means = avatar.means.detach().clone()
    grad = torch.zeros(n)
    grad[:20] = 1.0  # 10 large (split) + 10 small (clone) with high gradient
    s = DensifyStrategy(start=0, stop=100, interval=1, grad_threshold=0.5, clone_scale=0.5, prune_opacity=0.005)
    counts = s.densify_and_prune(avatar, opt, grad, step=0)
    assert counts == {"cloned": 10, "split": 10, "pruned": 10}
    assert avatar.n_gaussians == n - 10 - 10 + 10 + 20
    # survivors keep their rows; clones copy theirs; split children keep the parent's triangle
    keep = torch.arange(10, 390)
    assert torch.equal(avatar.parent[:380], old_parent[keep])
    assert torch.equal(avatar.parent[380:390], old_parent[10:20])
    assert torch.equal(avatar.parent[390:], old_parent[:10].repeat(2))
    assert torch.allclose(avatar.means[380:390], old_means[10:20])
    # (the Adam step moved the parents by lr = 1e-3)
    assert torch.allclose(avatar.log_scales[390:], torch.full((20, 3), -torch.log(torch.tensor(1.6))), atol=2e-3)
    # the optimizer now holds the new tensors, with moments for survivors and zeros for children
    for group in opt.param_groups:
        p = group["params"][0]
        assert p is getattr(avatar, group["name"])
        st = opt.state[p]
        assert st["exp_avg"].shape == p.shape
        assert torch.all(st["exp_avg"][390:] == 0) and torch.any(st["exp_avg"][:380] != 0)
    # and training goes on
    opt.zero_grad()
    sum(p.sum() for p in avatar.gaussian_tensors().values()).backward()
    opt.step()


def test_growth_stops_at_the_cap(head):
    avatar, opt = _setup(head)
    n = avatar.n_gaussians
    with torch.no_grad():
        avatar.log_scales[:] = -2.0
    s = DensifyStrategy(start=0, stop=100, interval=1, grad_threshold=0.5, max_gaussians=n + 5)
    counts = s.densify_and_prune(avatar, opt, torch.ones(n), step=0)
    assert counts["cloned"] == 5 and avatar.n_gaussians == n + 5


def _views(avatar, n: int):
    """``n`` differently posed renders of the avatar (jaw, head turn) with the portrait's camera."""
    import fake_head as fh

    _, fit, _ = fh.portrait_scene(48, None)
    gen = torch.Generator().manual_seed(3)
    z_dyn = torch.zeros(n, 52)
    z_dyn[:, 24] = torch.rand(n, generator=gen)  # jawOpen
    z_pose = torch.zeros(n, 7)
    z_pose[:, :3] = (torch.rand(n, 3, generator=gen) - 0.5) * 0.3
    return z_dyn, z_pose, [fit.camera] * n


def _mean_grads(avatar, strategy, z_dyn, z_pose, cams, batch: int) -> torch.Tensor:
    """Feed the frames through ``strategy`` in batches of ``batch`` (the loss a batch mean, as in the
    trainer) and return the mean gradient it densifies with at the last step."""
    from vasa3d.render import rasterize
    from vasa3d.train.losses.l1 import l1_loss

    seen = {}

    def record(avatar, optimizer, mean_grad, step):
        seen["g"] = mean_grad.clone()
        return {}

    strategy.densify_and_prune = record
    target = torch.full((1, 48, 48, 3), 0.3)
    for step, i in enumerate(range(0, len(z_dyn), batch)):
        gs = avatar.deform(z_dyn[i:i + batch], z_pose[i:i + batch], vas=True)[1]
        strategy.pre_backward(gs)
        colors = torch.cat([rasterize(g, c, 48, 48).color for g, c in zip(gs, cams[i:i + batch])])
        avatar.zero_grad()
        l1_loss(colors, target.expand_as(colors)).backward()
        strategy.post_backward(step, avatar, None, gs, cams[i:i + batch])
    return seen["g"]


def test_densification_does_not_depend_on_the_batch_size(head):
    """The same four frames, one per step or all in one batch-mean step, mark the same Gaussians."""
    avatar, _ = _setup(head)
    z_dyn, z_pose, cams = _views(avatar, 4)
    one = _mean_grads(avatar, DensifyStrategy(start=3, stop=100, interval=10), z_dyn, z_pose, cams, batch=1)
    four = _mean_grads(avatar, DensifyStrategy(start=0, stop=100, interval=10), z_dyn, z_pose, cams, batch=4)
    torch.testing.assert_close(four, one, rtol=1e-4, atol=1e-9)
    threshold = float(one[one > 0].median())  # half of the seen Gaussians would grow at this threshold
    grow_one, grow_four = one >= threshold, four >= threshold
    assert 100 < int(grow_one.sum()) < avatar.n_gaussians
    assert torch.equal(grow_one, grow_four)


def test_opacity_reset_on_schedule_clears_adam_moments(head):
    avatar, opt = _setup(head)
    with torch.no_grad():
        avatar.opacity_logits[:200] = 3.0  # opacity 0.95
        avatar.opacity_logits[200:] = -6.0  # 0.0025, below the ceiling
    sum(p.sum() for p in avatar.gaussian_tensors().values()).backward()
    opt.step()
    s = DensifyStrategy(start=1000, stop=5000, interval=100, opacity_reset_interval=300)
    before = avatar.opacity_logits.detach().clone()
    assert s.post_backward(299, avatar, opt, [], [])["reset"] == 0
    assert torch.equal(avatar.opacity_logits.detach(), before)
    assert s.post_backward(300, avatar, opt, [], [])["reset"] == 1
    opacity = torch.sigmoid(avatar.opacity_logits.detach())
    torch.testing.assert_close(opacity[:200], torch.full((200,), 0.01))
    torch.testing.assert_close(opacity[200:], torch.sigmoid(before[200:]))
    state = opt.state[avatar.opacity_logits]
    assert float(state["exp_avg"].abs().max()) == 0 and float(state["exp_avg_sq"].abs().max()) == 0
    # no resets once densification has stopped
    assert s.post_backward(6000, avatar, opt, [], [])["reset"] == 0
