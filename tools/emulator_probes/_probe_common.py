"""Shared helpers for the emulator probes (not a test module)."""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "scripts"))

import emulators

__all__ = ["HERE", "Recorder", "emulators"]


class Recorder:
    def __init__(self):
        self.rows: list[dict] = []

    def check(self, name, fn, expect=None):
        """Run fn(); record ok / mismatch / error (first line of the error message)."""
        try:
            got = fn()
        except Exception as exc:  # noqa: BLE001
            msg = getattr(exc, "message", None) or str(exc)
            msg = " ".join(str(msg).split())[:400]
            self.rows.append(
                {"feature": name, "status": "ERROR", "detail": f"{type(exc).__name__}: {msg}"}
            )
            if os.environ.get("PROBE_TRACE"):
                traceback.print_exc()
        else:
            if expect is None:
                status = "ok"
            else:
                status = "ok" if got == expect else "DIFF"
            detail = (
                repr(got)[:400]
                if expect is None or got == expect
                else f"got {got!r} expected {expect!r}"[:400]
            )
            self.rows.append({"feature": name, "status": status, "detail": detail})
        r = self.rows[-1]
        print(f"[{r['status']:5}] {r['feature']}: {r['detail']}", flush=True)
        return r

    def dump(self, path):
        Path(path).write_text(json.dumps(self.rows, indent=1))
