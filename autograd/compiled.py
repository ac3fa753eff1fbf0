"""``autograd.compile``: scalar code at batch speed (the pipeline lives in :mod:`autograd.compiler`)."""

from .compiler.batch import CompileError
from .compiler.replay import MAX_PATTERNS
from .compiler.step import CompiledStep, compile  # noqa: A004 - autograd.compile, as torch.compile
from .compiler.tape import Group

__all__ = ["MAX_PATTERNS", "CompileError", "CompiledStep", "Group", "compile"]
