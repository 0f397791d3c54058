"""Parametric head models (built-in, FLAME adapter), skinning, blendshapes and fitting."""

from vasa3d.head.build import build_head
from vasa3d.head.builtin import REGIONS
from vasa3d.head.fit import FitConfig, FittedPortrait, fit_portrait, params_from_latent
from vasa3d.head.model import HeadModel
from vasa3d.head.params import HeadParams

__all__ = ["REGIONS", "FitConfig", "FittedPortrait", "HeadModel", "HeadParams", "build_head", "fit_portrait",
           "params_from_latent"]
