"""Parametric head models (built-in, FLAME adapter), skinning, blendshapes and fitting."""

from vasa3d.head.arkit_io import read_arkit, write_arkit_csv, write_arkit_json
from vasa3d.head.avatar_head import AvatarHead, avatar_head
from vasa3d.head.build import build_head, parse_head_spec
from vasa3d.head.builtin import REGIONS
from vasa3d.head.fit import (FitConfig, FittedPortrait, fit_landmarks, fit_portrait, latent_from_params,
                             params_from_latent)
from vasa3d.head.flame import load_flame
from vasa3d.head.model import HeadModel
from vasa3d.head.params import HeadParams
from vasa3d.head.solve import solve_arkit

__all__ = ["REGIONS", "AvatarHead", "FitConfig", "FittedPortrait", "HeadModel", "HeadParams", "avatar_head",
           "build_head", "fit_landmarks", "fit_portrait", "latent_from_params", "load_flame", "params_from_latent",
           "parse_head_spec", "read_arkit", "solve_arkit", "write_arkit_csv", "write_arkit_json"]
