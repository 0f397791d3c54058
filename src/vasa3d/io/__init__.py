"""Files in and out: media (PyAV/Pillow) and the ``.vasa3d`` avatar file."""

from vasa3d.io.avatar_file import load_avatar, read_avatar_file, save_avatar, write_avatar_file
from vasa3d.io.media import (
    check_output_path,
    load_audio,
    load_image,
    probe_video,
    read_video_frames,
    save_image,
    write_video,
)
from vasa3d.io.paths import FolderLock, atomic_output, check_output_dir, same_file

__all__ = [
    "FolderLock",
    "atomic_output",
    "check_output_dir",
    "same_file",
    "check_output_path",
    "load_audio",
    "load_avatar",
    "load_image",
    "probe_video",
    "read_avatar_file",
    "read_video_frames",
    "save_avatar",
    "save_image",
    "write_avatar_file",
    "write_video",
]
