"""Rotations and minimum-jerk profiles: the geometry every synthetic movement uses."""

from __future__ import annotations

import math

import numpy as np

G_MS2 = 9.80665


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def rand_unit(rng: np.random.Generator) -> np.ndarray:
    return unit(rng.normal(size=3))


def perp_unit(rng: np.random.Generator, v: np.ndarray) -> np.ndarray:
    w = rng.normal(size=3)
    w -= w.dot(v) * v
    return unit(w)


def rotate(vec: np.ndarray, axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues: rotate rows of ``vec`` (n,3) about unit ``axis`` by ``angle`` (n,) rad."""
    c = np.cos(angle)[:, None]
    s = np.sin(angle)[:, None]
    kxv = np.cross(axis, vec)
    kdv = vec @ axis
    return vec * c + kxv * s + np.outer(kdv, axis) * (1 - c)


def rot_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    k = unit(np.asarray(axis, dtype=float))
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(angle) * kx + (1 - math.cos(angle)) * kx @ kx


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = unit(rng.normal(size=4))
    w, x, y, z = q
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


def minjerk(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum-jerk position, velocity and acceleration profiles for s in [0, 1]."""
    s = np.clip(s, 0.0, 1.0)
    pos = s ** 3 * (10 - 15 * s + 6 * s * s)
    vel = 30 * s * s * (1 - s) ** 2
    acc = 60 * s - 180 * s * s + 120 * s ** 3
    return pos, vel, acc
