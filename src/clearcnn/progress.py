"""A Keras-style progress bar.

On a terminal it redraws one line per epoch with carriage returns: steps done, the bar, the ETA while
running and the elapsed time at the end, time per step, and the running metrics. Anywhere else (a file,
a pipe, CI) it writes only the finished line, so logs hold no carriage-return or backspace garbage.
"""
import sys
import time


def format_duration(seconds):
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{seconds:.0f}s"


def format_logs(logs):
    return " - ".join(f"{key}: {value:.4f}" for key, value in logs.items())


class Progbar:
    def __init__(self, target, width=20, verbose=1, stream=None, interval=0.1):
        self.target, self.width, self.verbose = target, width, verbose
        self.stream = stream or sys.stdout
        self.interval = interval
        self.dynamic = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.last_draw = 0.0

    def update(self, step, logs=None, finalize=False):
        """Show `step` steps done (1-based) with the running `logs`; `finalize` writes the finished line."""
        if self.verbose != 1 and not finalize:
            return
        now = time.perf_counter()
        if not finalize and (not self.dynamic or now - self.last_draw < self.interval):
            return
        self.last_draw = now
        elapsed = now - self.start
        per_step = elapsed / max(step, 1)
        line = self.render(step, elapsed, per_step, logs or {}, finalize)
        if self.dynamic and self.verbose == 1:
            self.stream.write("\r" + line + ("\n" if finalize else ""))
        elif finalize:
            self.stream.write(line + "\n")
        self.stream.flush()

    def render(self, step, elapsed, per_step, logs, finalize):
        parts = []
        if self.verbose == 1:
            if self.target:
                done = int(self.width * step / self.target)
                parts.append(f"{step}/{self.target} " + "━" * done + "─" * (self.width - done))
            else:
                parts.append(f"{step}/Unknown")
        if finalize:
            parts.append(format_duration(elapsed))
        else:
            parts.append("ETA: " + format_duration(per_step * max((self.target or step) - step, 0)))
        unit = f"{per_step * 1000:.0f}ms/step" if per_step >= 1e-3 else f"{per_step * 1e6:.0f}us/step"
        parts.append(unit)
        text = " ".join(parts)
        return text + (" - " + format_logs(logs) if logs else "")
