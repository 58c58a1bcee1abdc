"""How close two float32 results must be to count as the same computation.

Machines of our kind differ in CPU vendor, and their SIMD kernels round float32 sums in other orders:
a figure computed twice (in another process, another batch, on another machine) agrees only to
float32's precision, never bit for bit. Tests compare with these bounds, never tighter.
"""

# A mean of float32 scores (SSIM, MSE) over a test set: each score carries the convolutions' float32
# rounding (a few 1e-8 relative); seen between an Intel and an AMD CPU: 8e-9 relative. A real change
# (another image, noise draw or weight) moves such a mean by 1e-4 or more.
FLOAT32_MEAN = 1e-6

# One float32 score (SSIM of one image) recomputed in a batch of another size: other kernels, other
# rounding, about 1e-7; a score of another image or reconstruction differs by 1e-3 or more.
FLOAT32_SCORE = 1e-5
