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
