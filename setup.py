"""Build the one C extension: rnnlab's C time loops (src/rnnlab/nn/paths/_native_loops.c).

It is a plain C file (no torch or BLAS headers), so it builds with the
setuptools of the isolated build environment and any C compiler, in about a
second. OpenMP spreads the batch rows over torch's threads; a compiler without
it gets a single-threaded build. The extension is optional: where it cannot be
built at all, the install still succeeds and the kernel runs its Python loops
(`rnnlab.nn.paths.native` says why).
"""

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# No trapping math: lets the compiler vectorise the branch-free gate loops.
FLAGS = ["-O3", "-fno-trapping-math", "-fno-math-errno"]
OPENMP = "-fopenmp"


class BuildWithOptionalOpenMP(build_ext):
    """Try the OpenMP build first; without OpenMP, build the single-threaded loops."""

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception:  # noqa: BLE001 - any compile or link failure: retry plainer
            ext.extra_compile_args = [f for f in ext.extra_compile_args if f != OPENMP]
            ext.extra_link_args = [f for f in ext.extra_link_args if f != OPENMP]
            super().build_extension(ext)


setup(
    ext_modules=[
        Extension(
            "rnnlab.nn.paths._native_loops",
            sources=["src/rnnlab/nn/paths/_native_loops.c"],
            extra_compile_args=[*FLAGS, OPENMP],
            extra_link_args=[OPENMP],
            optional=True,
        )
    ],
    cmdclass={"build_ext": BuildWithOptionalOpenMP},
)
