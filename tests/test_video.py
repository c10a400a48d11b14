"""`waestyle video` on tiny generated clips: frames, rate and sound kept, bad inputs refused clearly."""

from fractions import Fraction

import numpy as np
import pytest

from waestyle.cli.main import main

av = pytest.importorskip("av")


def make_clip(path, frames: int = 12, size=(64, 48), rate: int = 12, audio: bool = True) -> None:
    """A moving gradient (h264) with a 440 Hz tone (AAC), as a camera would write."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        tone = container.add_stream("aac", rate=16000) if audio else None
        x = np.linspace(0, 255, size[0], dtype=np.float64)
        for i in range(frames):
            row = (x + 20 * i) % 256
            pixels = np.stack([np.tile(row, (size[1], 1)), np.full((size[1], size[0]), 90.0),
                               np.tile(row[::-1], (size[1], 1))], axis=-1).astype(np.uint8)  # fmt: skip
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if tone is not None:
            samples = 16000 * frames // rate
            wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 16000)).astype(np.float32)[None]
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, start : start + 1024]), format="fltp",
                                                   layout="mono")  # fmt: skip
                chunk.sample_rate, chunk.pts = 16000, start
                container.mux(tone.encode(chunk))
            container.mux(tone.encode(None))


def probe(path) -> dict:
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = sum(1 for _ in container.decode(video))
        return {"frames": frames, "rate": video.average_rate, "size": (video.width, video.height),
                "audio": len(container.streams.audio)}  # fmt: skip


def test_a_clip_keeps_its_frames_rate_size_and_sound(tmp_path, capsys, image_dir):
    clip = tmp_path / "clip.mp4"
    make_clip(clip)
    out = tmp_path / "styled.mp4"
    style = sorted(image_dir.iterdir())[0]
    # --style-scale 8: the model works at 512 / 8 = 64 px, the clip's own size (512 px by default)
    assert main(["video", str(clip), str(style), "-o", str(out), "--style-scale", "8", "--backend", "torch"]) == 0
    assert "12 frames, 64x48 at 12 frames/s, 1 audio stream(s) kept" in capsys.readouterr().out
    assert probe(out) == {"frames": 12, "rate": Fraction(12), "size": (64, 48), "audio": 1}
    assert not list(tmp_path.glob(".*partial*"))
    smaller = tmp_path / "small.mkv"
    argv = ["video", str(clip), "--style", "random", "--style", str(style), "--weights", "0.5,0.5", "-o",
            str(smaller), "--long-side", "32", "--strength", "0.7", "--content-dim", "16", "--keep-colors",
            "--style-scale", "8"]  # fmt: skip
    assert main(argv) == 0
    assert probe(smaller)["size"] == (32, 24) and probe(smaller)["frames"] == 12
    refined = tmp_path / "refined.mp4"  # refined once, on the first frame; the clip keeps that one latent
    argv = [
        "video",
        str(clip),
        str(style),
        "-o",
        str(refined),
        "--refine",
        "2",
        "--strength",
        "0.8",
        "--style-scale",
        "8",
    ]
    assert main(argv) == 0 and probe(refined)["frames"] == 12


def test_bad_videos_and_outputs_get_one_clear_line(tmp_path, capsys, image_dir):
    style = str(sorted(image_dir.iterdir())[0])
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    picture = tmp_path / "still.png"
    picture.write_bytes((image_dir / sorted(p.name for p in image_dir.iterdir())[0]).read_bytes())
    clip = tmp_path / "clip.mp4"
    make_clip(clip, frames=3, audio=False)
    sound = tmp_path / "sound.m4a"  # audio only: a file FFmpeg reads, with no video stream
    with av.open(str(sound), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000)
        tone = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        tone.sample_rate, tone.pts = 16000, 0
        container.mux(stream.encode(tone))
        container.mux(stream.encode(None))
    cases = [
        ([str(text), style, "-o", str(tmp_path / "a.mp4")], "not a video file FFmpeg can read"),
        ([str(sound), style, "-o", str(tmp_path / "e.mp4")], "no video stream"),
        ([str(tmp_path / "missing.mp4"), style, "-o", str(tmp_path / "b.mp4")], "no such file"),
        ([str(clip), style, "-o", str(tmp_path / "c.gif")], "give the output a video extension"),
        ([str(clip), style, "-o", str(clip)], "exists; pass --overwrite"),
    ]
    for argv, message in cases:
        assert main(["video", *argv]) == 1
        err = [line for line in capsys.readouterr().err.replace("\r", "\n").splitlines() if "frame" not in line]
        assert len(err) == 1 and err[0].startswith("waestyle: error: ") and message in err[0], err
    assert not (tmp_path / "a.mp4").exists() and not list(tmp_path.glob(".*partial*"))


def test_an_interrupted_run_leaves_no_file_under_the_output_name(tmp_path, capsys, image_dir, monkeypatch):
    from waestyle.stylize.stylizer import Stylizer

    clip, out = tmp_path / "clip.mp4", tmp_path / "out" / "styled.mp4"
    make_clip(clip, frames=6)
    calls = []
    real = Stylizer.transfer

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Stylizer, "transfer", interrupted)
    argv = ["video", str(clip), str(sorted(image_dir.iterdir())[0]), "-o", str(out), "--style-scale", "8"]
    assert main(argv) != 0
    assert "interrupted" in capsys.readouterr().err
    assert not out.exists() and not list(out.parent.glob(".*partial*"))


def test_temporal_blending_lowers_the_warping_error(image_dir):
    from PIL import Image

    from waestyle.core.errors import WaestyleError
    from waestyle.stylize.stylizer import Stylizer
    from waestyle.stylize.temporal import TemporalBlender, warping_error
    from waestyle.stylize.video import FrameStyliser

    with Image.open(sorted(image_dir.iterdir())[3]) as photo:
        big = photo.convert("RGB").resize((160, 120))
    frames = [big.crop((4 * t, 2 * t, 4 * t + 96, 2 * t + 72)) for t in range(8)]  # a pan
    stylizer = Stylizer.load(backend="torch")
    style = stylizer.random_style(3)
    errors = {}
    for temporal in (0, 0.7):
        run = FrameStyliser(stylizer, style, (96, 72), {"style_scale": 512 / 96}, temporal)
        pairs = [run(f) for f in frames]
        errors[temporal] = warping_error([p[0] for p in pairs], [p[1] for p in pairs])
    assert errors[0.7] < 0.6 * errors[0]
    with pytest.raises(WaestyleError, match="--temporal"):
        TemporalBlender(1.0)
