"""Video: a clip stylised frame by frame in bounded memory, with one style latent for the whole clip.

PyAV (its wheels bundle FFmpeg; nothing is downloaded) decodes the clip one packet at a time, each frame goes
through `Stylizer.transfer` with the same z_s (so the style itself cannot flicker, only the content path can),
and the frames are encoded as they come: memory does not grow with the clip's length. The audio streams' packets
are copied as they are (no re-encoding). The frame rate is the input's, the size the input's (or `long_side`),
the colour range the input's. The output is written to a hidden file beside it and renamed at the end, so an
error or an interrupted run never leaves a half-written file under the output's name.
"""

import time
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from waestyle.core.errors import WaestyleError
from waestyle.stylize.inputs import output_size
from waestyle.stylize.temporal import TemporalBlender

DEFAULT_TEMPORAL = 0.7
# Output container and video codec by the output's extension.
FORMATS = {".mp4": ("mp4", "libx264"), ".mov": ("mov", "libx264"), ".mkv": ("matroska", "libx264"),
           ".webm": ("webm", "libvpx-vp9")}  # fmt: skip


@dataclass(frozen=True)
class VideoReport:
    frames: int
    seconds: float
    size: tuple[int, int]
    rate: Fraction
    audio_streams: int

    @property
    def frames_per_second(self) -> float:
        return self.frames / max(self.seconds, 1e-9)


class FrameStyliser:
    """One clip's frames, in order, at `size` (width, height): each stylised with the same style, then
    blended with the previous output along the motion (`temporal` > 0). Returns (input, output) as RGB arrays."""

    def __init__(self, stylizer, style, size: tuple[int, int], controls: dict, temporal: float, refine: int = 0):
        self.stylizer, self.style, self.size, self.controls = stylizer, style, size, dict(controls)
        self.blend = TemporalBlender(temporal) if temporal > 0 else None
        self.refine = refine  # steps, spent once, on the first frame: the clip keeps its refined codes

    def __call__(self, image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        if self.refine:
            keep = {k: self.controls[k] for k in ("content_dim", "style_scale") if k in self.controls}
            strength = self.controls.pop("strength", 1.0)
            self.style = self.stylizer.refined_style(image, self.style, self.refine, strength=strength, **keep)
            self.refine = 0
        styled = self.stylizer.transfer(image, self.style, long_side=max(self.size), **self.controls)
        if styled.size != self.size:
            styled = styled.resize(self.size, Image.Resampling.BICUBIC)
        if image.size != self.size:
            image = image.resize(self.size, Image.Resampling.BICUBIC)
        frame, out = np.asarray(image.convert("RGB")), np.asarray(styled)
        return frame, (self.blend(frame, out) if self.blend else out)


def _open_input(source: Path):
    import av

    if not source.is_file():
        raise WaestyleError(f"{source}: no such file")
    try:
        container = av.open(str(source))
    except (av.error.FFmpegError, OSError) as err:
        raise WaestyleError(f"{source}: not a video file FFmpeg can read") from err
    if not container.streams.video:
        container.close()
        raise WaestyleError(f"{source}: no video stream")
    return container


def even_size(width: int, height: int, long_side: int | None) -> tuple[int, int]:
    """(width, height) with `long_side` (None: the input's), both even as 4:2:0 chroma needs."""
    if long_side is not None:
        width, height = output_size((width, height), long_side)
    return max(2, width - width % 2), max(2, height - height % 2)


def stylise_video(stylizer, source: str | Path, style: torch.Tensor, out: str | Path, *,
                  controls: dict | None = None, long_side: int | None = None, temporal: float = DEFAULT_TEMPORAL,
                  refine: int = 0, overwrite: bool = False, progress: bool = True) -> VideoReport:  # fmt: skip
    """`source` in the style `style` (a latent or `Style`, the same for every frame) into `out` (.mp4, .mov,
    .mkv or .webm); `controls`: Stylizer.transfer's strength, content_dim, keep_colors, style_scale;
    `temporal`: how much of the previous output, carried along the motion, each frame keeps (temporal.py);
    `refine`: steps of refinement, once per clip (on the first frame; `style` must then be a `Style`)."""
    source, out = Path(source), Path(out)
    if out.suffix.lower() not in FORMATS:
        raise WaestyleError(f"{out}: give the output a video extension ({', '.join(FORMATS)})")
    if out.exists() and not overwrite:
        raise WaestyleError(f"{out} exists; pass --overwrite to replace it")
    if out.exists() and out.resolve() == source.resolve():
        raise WaestyleError(f"{out}: refusing to overwrite the input video")
    container = _open_input(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial_file = out.with_name(f".{out.name}.partial{out.suffix}")
    try:
        with container:
            stylise_frame = partial(FrameStyliser, stylizer, style, controls=controls or {}, temporal=temporal,
                                    refine=refine)  # fmt: skip
            report = _transcode(container, stylise_frame, partial_file, out.suffix.lower(), long_side, progress)
        partial_file.replace(out)
    except BaseException as err:
        partial_file.unlink(missing_ok=True)
        if _is_av_error(err):
            raise WaestyleError(f"{source}: the video could not be processed ({err})") from err
        raise
    return report


def _is_av_error(err: BaseException) -> bool:
    import av

    return isinstance(err, av.error.FFmpegError)


def _transcode(container, make_styliser, target: Path, suffix: str, long_side: int | None,
               progress: bool) -> VideoReport:  # fmt: skip
    import av

    video_in = container.streams.video[0]
    video_in.thread_type = "AUTO"
    audio_in = list(container.streams.audio)
    rate = video_in.average_rate or video_in.guessed_rate or Fraction(25)
    width, height = even_size(video_in.codec_context.width, video_in.codec_context.height, long_side)
    fmt, codec = FORMATS[suffix]
    started, frames = time.perf_counter(), 0
    stylise_frame = make_styliser(size=(width, height))
    with av.open(str(target), "w", format=fmt) as sink:
        video_out = sink.add_stream(codec, rate=rate)
        video_out.width, video_out.height, video_out.pix_fmt = width, height, "yuv420p"
        video_out.codec_context.color_range = video_in.codec_context.color_range
        audio_out = {s.index: sink.add_stream_from_template(s) for s in audio_in}
        total = video_in.frames or None
        with tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True, desc="video") as bar:
            for packet in container.demux(video_in, *audio_in):
                if packet.stream.index in audio_out:
                    if packet.dts is not None:
                        packet.stream = audio_out[packet.stream.index]
                        sink.mux(packet)
                    continue
                for frame in packet.decode():
                    _, pixels = stylise_frame(frame.to_image())
                    encoded = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
                    encoded.pts = frames
                    sink.mux(video_out.encode(encoded))
                    frames += 1
                    bar.update(1)
        sink.mux(video_out.encode(None))
    if frames == 0:
        raise WaestyleError("the video has no decodable frames")
    return VideoReport(frames, time.perf_counter() - started, (width, height), Fraction(rate), len(audio_in))
