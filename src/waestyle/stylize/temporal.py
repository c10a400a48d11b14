"""Temporal stability for video: the previous output, warped by the input's optical flow, blended in where
the flow is reliable; and the warping error that measures flicker.

Per-frame feed-forward stylisation flickers: a small change between two input frames can change the texture a
lot. With one z_s per clip only the content path can flicker; what is left is cut by blending each new output
with the previous one carried along the motion of the input (OpenCV's DIS optical flow on the input frames,
backward from frame t to t-1), but only where a forward-backward check says the flow is reliable (no
occlusion, no new content), so moving objects do not smear.

The warping error (Lai et al., ECCV 2018) is the occlusion-masked mean squared difference between each output
frame and the previous output warped by the input's flow, pixel values in [0, 1]; lower is steadier. It is
measured with another flow algorithm (Farneback's) than the blending uses, so it does not reward the blending
for following its own flow's mistakes.
"""

import functools

import numpy as np

# The standard forward-backward consistency test (Sundaram et al. 2010; Ruder et al. 2016).
CONSISTENCY = (0.01, 0.5)
FLOW_SIDE = 256


def _cv2():
    try:
        import cv2
    except ImportError as err:
        from waestyle.core.errors import WaestyleError

        raise WaestyleError("temporal stability needs OpenCV: pip install 'waestyle[video]'") from err
    return cv2


def _grey(image: np.ndarray) -> np.ndarray:
    return _cv2().cvtColor(image, _cv2().COLOR_RGB2GRAY)


def optical_flow(source: np.ndarray, target: np.ndarray, method: str = "dis") -> np.ndarray:
    """(H, W, 2) flow such that source(x) ~ target(x + flow(x)); RGB uint8 frames. "dis" (fast, the blending's)
    or "farneback" (the measure's: another algorithm, so the measure does not share the method's errors)."""
    cv2 = _cv2()
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(_grey(source), _grey(target), None, 0.5, 4, 21, 5, 7, 1.5, 0)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_grey(source), _grey(target), None)


@functools.lru_cache(maxsize=4)
def _pixel_grid(height: int, width: int) -> np.ndarray:
    """(H, W, 2) float32 x, y of every pixel: built once per frame size, not at every warp of every frame."""
    grid = np.stack(np.meshgrid(np.arange(width), np.arange(height)), axis=-1).astype(np.float32)
    grid.flags.writeable = False
    return grid


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """`image` sampled at x + flow(x) (bilinear, edges repeated)."""
    cv2 = _cv2()
    grid = _pixel_grid(*flow.shape[:2])
    return cv2.remap(image, grid + flow, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def reliable(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """(H, W) bool: where following `backward` then `forward` returns near the start (no occlusion)."""
    forward_there = warp(forward, backward)
    round_trip = backward + forward_there
    scale, floor = CONSISTENCY
    tolerance = scale * ((backward**2).sum(-1) + (forward_there**2).sum(-1)) + floor
    return (round_trip**2).sum(-1) < tolerance


def motion(previous: np.ndarray, current: np.ndarray, max_side: int = FLOW_SIDE,
           method: str = "dis") -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(backward flow from `current` to `previous`, its reliability mask), both at the frames' size; the flow is
    computed at `max_side` pixels on the long side at most (the motion of a video is smooth; a 512-px frame's
    two flows cost 4 times less at 256) and scaled up."""
    cv2 = _cv2()
    height, width = current.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale < 1:
        small = (max(8, round(width * scale)), max(8, round(height * scale)))
        previous, current = (cv2.resize(f, small, interpolation=cv2.INTER_AREA) for f in (previous, current))
    backward = optical_flow(current, previous, method)
    mask = reliable(backward, optical_flow(previous, current, method))
    if scale < 1:
        backward = cv2.resize(backward, (width, height), interpolation=cv2.INTER_LINEAR) / np.float32(scale)
        mask = cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    return backward, mask


class TemporalBlender:
    """out_t = stylised_t, moved toward warp(out_{t-1}) by `strength` where the input's flow is reliable."""

    def __init__(self, strength: float):
        if not 0 <= strength < 1:
            from waestyle.core.errors import WaestyleError

            raise WaestyleError(f"--temporal must be from 0 to below 1, got {strength}")
        self.strength = strength
        self.previous: tuple[np.ndarray, np.ndarray] | None = None  # (input frame, output frame)

    def __call__(self, frame: np.ndarray, stylised: np.ndarray) -> np.ndarray:
        """The blended output for input `frame` (RGB uint8) and its per-frame stylisation (same size)."""
        out = stylised
        if self.strength > 0 and self.previous is not None and self.previous[0].shape == frame.shape:
            flow, mask = motion(self.previous[0], frame)
            carried = warp(self.previous[1], flow).astype(np.float32)
            weight = (self.strength * mask)[..., None]
            out = (weight * carried + (1 - weight) * stylised.astype(np.float32)).round().clip(0, 255).astype(np.uint8)
        self.previous = (frame, out)
        return out


def warping_error(inputs: list[np.ndarray], outputs: list[np.ndarray]) -> float:
    """Mean over consecutive pairs of the masked mean squared difference, in [0, 1] pixel units."""
    if len(inputs) != len(outputs):
        raise ValueError("one output per input frame")
    errors = []
    for t in range(1, len(inputs)):
        a, b, out_a, out_b = inputs[t - 1], inputs[t], outputs[t - 1], outputs[t]
        flow, mask = motion(a, b, max_side=max(a.shape), method="farneback")  # full resolution, another flow
        difference = ((out_b.astype(np.float64) - warp(out_a, flow).astype(np.float64)) / 255) ** 2
        errors.append((difference.mean(-1) * mask).sum() / max(1, mask.sum()))
    return float(np.mean(errors)) if errors else 0.0
