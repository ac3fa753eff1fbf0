"""How :func:`nn.fit` reports progress: a tqdm bar where it can redraw one, plain lines where it cannot.

In Jupyter the bar is tqdm's widget; in a terminal, tqdm's text bar. When standard error is
neither (a file, a pipe, CI's log), a redrawn bar would be one long line of ``\\r`` updates,
so :class:`ProgressLines` prints a plain line every few epochs instead. Both show the loss
and the accuracy in the same format, :func:`metrics`.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO, Any

import tqdm.auto

from .callbacks import Callback, FitState

__all__ = ["PROGRESS", "ProgressBar", "ProgressLines", "metrics", "reporter"]

PROGRESS = ("auto", "bar", "lines", "none")
LINES = 10  # about this many lines for a whole run, however many epochs


def metrics(loss: float, accuracy: float) -> dict[str, str]:
    """The loss (4 significant digits) and the accuracy (a percentage, one decimal), as fit shows them.

    >>> metrics(0.123456, 0.975)
    {'loss': '0.1235', 'accuracy': '97.5%'}
    >>> metrics(2.5e-05, math.nan)  # no accuracy when the targets are not class labels
    {'loss': '2.5e-05'}
    """
    shown = {"loss": f"{loss:.4g}"}
    if not math.isnan(accuracy):
        shown["accuracy"] = f"{accuracy:.1%}"
    return shown


def _flush_stdout() -> None:
    """Send what was printed so far before a progress line or bar goes to standard error.

    Standard output is buffered (by Jupyter's kernel, or by Python when it is a pipe or a file)
    and standard error is not, so without this a notebook or a log shows fit's progress before
    the prints that ran first."""
    if sys.stdout is not None:
        sys.stdout.flush()


def _in_jupyter() -> bool:
    """Whether tqdm.auto chose its notebook widget (it does inside a Jupyter kernel).

    Looked up at each call, not at import: a kernel may point ``tqdm.auto.tqdm`` at the
    text bar (to commit notebooks with text outputs), and then it is no widget."""
    return any(cls.__module__ == "tqdm.notebook" for cls in tqdm.auto.tqdm.__mro__)


class ProgressBar(Callback):
    """tqdm.auto's bar, one tick per epoch, with the epoch's running loss and accuracy."""

    def __init__(self, epochs: int, desc: str = "fit") -> None:
        _flush_stdout()
        self.bar = tqdm.auto.tqdm(total=epochs, desc=desc, unit="epoch")

    def on_step_end(self, state: FitState) -> None:
        self.bar.set_postfix(metrics(state.epoch_loss, state.epoch_accuracy), refresh=False)

    def on_epoch_end(self, state: FitState) -> None:
        self.bar.set_postfix(metrics(state.history.loss[-1], state.history.accuracy[-1]), refresh=False)
        self.bar.update(1)

    def note(self, message: str) -> None:
        _flush_stdout()
        self.bar.write(message, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


class ProgressLines(Callback):
    """One plain line every few epochs (about ten lines a run, and always the first and last epoch)."""

    def __init__(self, epochs: int, desc: str = "fit", file: IO[str] | None = None) -> None:
        self.epochs, self.desc, self.file = epochs, desc, file if file is not None else sys.stderr
        self.every = max(1, math.ceil(epochs / LINES))
        self.start = time.perf_counter()

    def on_epoch_end(self, state: FitState) -> None:
        done = state.epoch + 1
        if done == 1 or done % self.every == 0 or done == self.epochs or state.stop:
            shown = ", ".join(f"{k}={v}" for k, v in metrics(state.history.loss[-1], state.history.accuracy[-1]).items())
            self.note(f"{self.desc}: epoch {done}/{self.epochs}: {shown} ({time.perf_counter() - self.start:.1f} s)")

    def note(self, message: str) -> None:
        _flush_stdout()
        print(message, file=self.file, flush=True)

    def close(self) -> None:
        pass


class _Silent(Callback):
    def note(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass


def reporter(progress: Any, epochs: int, desc: str = "fit") -> ProgressBar | ProgressLines | _Silent:
    """The reporter for fit's ``progress`` argument: True/"auto", "bar", "lines", False/"none";
    ``desc`` leads the bar and each line ("fit · compiled" for compiled steps)."""
    if progress is True:
        progress = "auto"
    elif progress is False or progress is None:
        progress = "none"
    if progress not in PROGRESS:
        raise ValueError(f"fit(): progress must be True, False or one of {', '.join(map(repr, PROGRESS))}; got {progress!r}")
    if progress == "auto":
        stream = sys.stderr
        redraws = _in_jupyter() or (stream is not None and hasattr(stream, "isatty") and stream.isatty())
        progress = "bar" if redraws else "lines"
    if progress == "bar":
        return ProgressBar(epochs, desc)
    if progress == "lines":
        return ProgressLines(epochs, desc)
    return _Silent()
