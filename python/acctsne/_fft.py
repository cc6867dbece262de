"""The FFT step of the interpolation method (method="fft"), run by scipy.fft.

The C++ engine spreads charges onto a node grid, calls :func:`convolve` (holding the GIL
only for this call) and interpolates the result back; see
cpp/include/acctsne/fft_repulsion.h.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft


def convolve(kernel, grids, *, workers=1):
    """Overwrite every ``grids[c]`` with its linear convolution by an even kernel.

    Uses a circulant embedding of size ``m = 2n`` per axis without materialising it:
    the kernel's transform is a type-1 DCT of its ``(n + 1)``-point half (the DFT of an
    even sequence), and the transforms skip the zero padding (rows beyond ``n`` are
    neither transformed forward nor back), about 3/4 of the work of a padded ``rfftn``.

    Parameters
    ----------
    kernel : ndarray of shape (n + 1,) or (n + 1, n + 1)
        The kernel at node offsets 0..n along each axis (even in each axis).
    grids : ndarray of shape (n_charges, n) or (n_charges, n, n)
        Charges on the node grid; overwritten with the convolutions.
    workers : int
        Threads for scipy.fft (it splits independent 1-D transforms between them, so
        the result does not depend on this number).
    """
    n = grids.shape[-1]
    m = 2 * n
    kernel_hat = scipy.fft.dctn(kernel, type=1, workers=workers)
    if kernel.ndim == 1:
        spectrum = scipy.fft.rfft(grids, n=m, axis=-1, workers=workers)
        spectrum *= kernel_hat
        grids[...] = scipy.fft.irfft(spectrum, n=m, axis=-1, workers=workers)[..., :n]
        return
    # Rows of the full 2n x (n + 1) spectrum: offsets 0..n, then n-1..1 (evenness).
    kernel_hat = np.concatenate([kernel_hat, kernel_hat[-2:0:-1]], axis=0)
    spectrum = scipy.fft.rfft(grids, n=m, axis=-1, workers=workers)
    spectrum = scipy.fft.fft(spectrum, n=m, axis=-2, workers=workers, overwrite_x=True)
    spectrum *= kernel_hat
    spectrum = scipy.fft.ifft(spectrum, axis=-2, workers=workers, overwrite_x=True)[:, :n]
    grids[...] = scipy.fft.irfft(spectrum, n=m, axis=-1, workers=workers)[..., :n]


def convolver(n_threads):
    """``convolve`` with the fit's thread count bound."""
    return functools.partial(convolve, workers=n_threads)
