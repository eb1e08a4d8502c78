"""Draw the architecture of session_backup as SVG and PNG (matplotlib only, no network).

Three pictures, written to --out (default docs/architecture/):

- datasets.{svg,png}: the five datasets (Data source, Landing, Processing, Result, Backup) and
  Backup's three parts (Head, History, Cold History Storage);
- session_lifecycle.{svg,png}: the life of one session through backup, restore, back-test and
  tiering, with the command that does each step;
- row_versions.{svg,png}: how one row's versions sit in Head and History across sessions when
  its value goes A -> B -> A.

    .venv/bin/python scripts/draw_architecture.py [--out DIR]     (or: make diagrams)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# One palette for the three pictures: the pipeline in blues, the backup in greens, cold in grey.
PIPELINE = "#dbe9f6"
PIPELINE_EDGE = "#3a6ea5"
BACKUP = "#dff3e3"
BACKUP_EDGE = "#2e7d32"
COLD = "#eceff1"
COLD_EDGE = "#546e7a"
USE = "#fff4d6"
USE_EDGE = "#b7791f"
TEXT = "#1f2933"

plt.rcParams.update(
    {
        "font.family": "DejaVu Sans",
        "font.size": 10,
        "svg.fonttype": "none",
        "svg.hashsalt": "session_backup",
    }
)


def box(
    axis,
    x,
    y,
    width,
    height,
    title,
    body="",
    face=PIPELINE,
    edge=PIPELINE_EDGE,
    title_size=11.5,
    body_size=9.0,
):
    """A rounded box with a bold title and an optional body, (x, y) its lower left corner."""
    axis.add_patch(
        FancyBboxPatch(
            (x, y),
            width,
            height,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            linewidth=1.6,
            facecolor=face,
            edgecolor=edge,
        )
    )
    if body:
        axis.text(
            x + width / 2,
            y + height - 0.22,
            title,
            ha="center",
            va="top",
            fontsize=title_size,
            fontweight="bold",
            color=TEXT,
        )
        axis.text(
            x + width / 2,
            y + height - 0.62,
            body,
            ha="center",
            va="top",
            fontsize=body_size,
            color=TEXT,
            linespacing=1.35,
        )
    else:
        axis.text(
            x + width / 2,
            y + height / 2,
            title,
            ha="center",
            va="center",
            fontsize=title_size,
            fontweight="bold",
            color=TEXT,
        )


def arrow(
    axis,
    start,
    end,
    label="",
    color=TEXT,
    label_offset=(0.0, 0.16),
    style="-|>",
    dashed=False,
    label_size=8.8,
    connection="arc3",
):
    axis.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=14,
            linewidth=1.5,
            color=color,
            linestyle="--" if dashed else "-",
            connectionstyle=connection,
            shrinkA=2,
            shrinkB=2,
        )
    )
    if label:
        middle = (
            (start[0] + end[0]) / 2 + label_offset[0],
            (start[1] + end[1]) / 2 + label_offset[1],
        )
        axis.text(*middle, label, ha="center", va="bottom", fontsize=label_size, color=color)


def canvas(width, height, title):
    figure = plt.figure(figsize=(width, height), dpi=120)
    axis = figure.add_axes([0, 0, 1, 1])
    axis.set_xlim(0, width)
    axis.set_ylim(0, height)
    axis.axis("off")
    axis.text(
        0.3, height - 0.3, title, ha="left", va="top", fontsize=14, fontweight="bold", color=TEXT
    )
    return figure, axis


# --------------------------------------------------------------------------------------------


def draw_datasets():
    figure, axis = canvas(13.5, 7.6, "Five datasets; Backup keeps every session")
    top = 4.9
    box(axis, 0.4, top, 2.3, 1.5, "Data source", "many systems\nand files")
    box(
        axis,
        3.4,
        top,
        2.7,
        1.5,
        "Landing",
        "one session = the complete\ninput + output tables,\ntagged with session_id",
    )
    box(axis, 6.8, top, 2.5, 1.5, "Processing", "layers of the\noptimization, models")
    box(axis, 10.0, top, 2.9, 1.5, "Result", "what users see,\nper session and scope")
    arrow(axis, (2.75, top + 0.75), (3.35, top + 0.75))
    arrow(axis, (6.15, top + 0.75), (6.75, top + 0.75))
    arrow(axis, (9.35, top + 0.75), (9.95, top + 0.75))
    arrow(
        axis,
        (11.45, top + 1.55),
        (4.75, top + 1.55),
        "the session's outputs land too",
        connection="arc3,rad=0.18",
        label_offset=(0, 0.66),
    )

    # Backup, with its three parts
    axis.add_patch(
        FancyBboxPatch(
            (0.4, 0.35),
            12.5,
            3.55,
            boxstyle="round,pad=0.02,rounding_size=0.15",
            linewidth=1.8,
            facecolor="#f5fbf6",
            edgecolor=BACKUP_EDGE,
        )
    )
    axis.text(
        0.65,
        3.75,
        "Backup dataset",
        ha="left",
        va="top",
        fontsize=12.5,
        fontweight="bold",
        color=BACKUP_EDGE,
    )
    axis.text(
        0.65,
        3.38,
        "one commit per run: History + Head + manifest together",
        ha="left",
        va="top",
        fontsize=9,
        color=BACKUP_EDGE,
        style="italic",
    )
    box(
        axis,
        0.8,
        0.8,
        3.5,
        2.1,
        "Head tables",
        "the current version of every row\nper scope and key,\n"
        "valid from session n\n(rewritten by every run)",
        face=BACKUP,
        edge=BACKUP_EDGE,
    )
    box(
        axis,
        4.8,
        0.8,
        3.7,
        2.1,
        "History tables",
        "closed versions, valid [from, to),\nappend-only, "
        "partitioned by\nclose date: untouched partitions\nbill as long-term after 90 days",
        face=BACKUP,
        edge=BACKUP_EDGE,
    )
    box(
        axis,
        9.0,
        0.8,
        3.6,
        2.1,
        "Cold History Storage",
        "old History as Parquet (zstd)\non GCS, "
        "one file per table,\nscope and closed month;\nrestores still read it",
        face=COLD,
        edge=COLD_EDGE,
    )
    arrow(axis, (4.35, 1.85), (4.75, 1.85), color=BACKUP_EDGE)
    arrow(axis, (8.55, 1.85), (8.95, 1.85), color=COLD_EDGE)
    axis.text(4.55, 2.05, "close", ha="center", va="bottom", fontsize=8, color=BACKUP_EDGE)
    axis.text(8.75, 2.05, "tier", ha="center", va="bottom", fontsize=8, color=COLD_EDGE)
    arrow(
        axis,
        (4.75, top - 0.05),
        (4.75, 3.95),
        "backup: only the rows that changed",
        color=BACKUP_EDGE,
        label_offset=(1.75, -0.05),
    )
    return figure


def draw_session_lifecycle():
    figure, axis = canvas(14.5, 7.6, "The life of one session")
    lanes = {
        "land": (5.55, 1.3, "Landing"),
        "backup": (3.55, 1.65, "Backup"),
        "use": (0.5, 2.8, "Restore, back-test, explain"),
    }
    for bottom, height, label in lanes.values():
        axis.add_patch(
            FancyBboxPatch(
                (0.3, bottom),
                13.9,
                height,
                boxstyle="round,pad=0.0,rounding_size=0.1",
                linewidth=0,
                facecolor="#f5f7fa",
            )
        )
        axis.text(
            0.45,
            bottom + height - 0.12,
            label,
            ha="left",
            va="top",
            fontsize=10,
            fontweight="bold",
            color="#52606d",
        )

    def step(x, y, width, title, caption, face, edge):
        box(axis, x, y, width, 0.8, title, "", face=face, edge=edge, title_size=10.5)
        axis.text(x + width / 2, y - 0.08, caption, ha="center", va="top", fontsize=8.5, color=TEXT)

    step(2.3, 5.95, 2.6, "session lands", "status = succeeded", PIPELINE, PIPELINE_EDGE)
    y = 4.1
    step(2.3, y, 2.6, "claimed", "gap-free seq per scope", BACKUP, BACKUP_EDGE)
    step(5.6, y, 3.0, "changes detected", "content hash vs Head, set-based", BACKUP, BACKUP_EDGE)
    step(9.3, y, 2.6, "one commit", "History + Head + manifest", BACKUP, BACKUP_EDGE)
    step(12.3, y, 1.75, "tiered", "after 90 days", COLD, COLD_EDGE)
    arrow(axis, (3.6, 5.55), (3.6, 4.95), color=BACKUP_EDGE)
    axis.text(
        3.75,
        5.27,
        "session-backup backup",
        ha="left",
        va="center",
        fontsize=8.5,
        family="monospace",
        color=BACKUP_EDGE,
    )
    arrow(axis, (4.95, y + 0.4), (5.55, y + 0.4), color=BACKUP_EDGE)
    arrow(axis, (8.65, y + 0.4), (9.25, y + 0.4), color=BACKUP_EDGE)
    arrow(axis, (11.95, y + 0.4), (12.25, y + 0.4), color=COLD_EDGE)
    axis.text(
        13.18,
        5.06,
        "tier --older-than 90d",
        ha="center",
        va="center",
        fontsize=8.2,
        family="monospace",
        color=COLD_EDGE,
    )

    uses = [
        (
            0.55,
            3.2,
            "restore",
            "restore --session S\nrestore --scope S\n    --since D1 --until D2\nrestore --as-of T",
        ),
        (
            4.05,
            3.1,
            "back-test",
            "export --format parquet\nthen run the new model\nversion on the sessions",
        ),
        (7.45, 3.2, "explain", "diff --from A --to B\nlog --table T --key K\n(why did it change?)"),
        (10.95, 3.1, "verify", "verify --all\nrow count + checksum:\nexact, or exit 1"),
    ]
    for x, width, title, body in uses:
        axis.add_patch(
            FancyBboxPatch(
                (x, 0.75),
                width,
                1.75,
                boxstyle="round,pad=0.02,rounding_size=0.12",
                linewidth=1.5,
                facecolor=USE,
                edgecolor=USE_EDGE,
            )
        )
        axis.text(
            x + width / 2,
            2.32,
            title,
            ha="center",
            va="top",
            fontsize=10.5,
            fontweight="bold",
            color=TEXT,
        )
        axis.text(
            x + width / 2,
            1.9,
            body,
            ha="center",
            va="top",
            fontsize=8.3,
            family="monospace",
            color=TEXT,
            linespacing=1.5,
            multialignment="left",
        )
    arrow(axis, (7.3, 3.62), (7.3, 2.58), color=USE_EDGE)
    axis.text(
        7.45,
        3.1,
        "one set-based query per table over Head + History: no replay chain",
        ha="left",
        va="center",
        fontsize=8.8,
        color=USE_EDGE,
    )
    arrow(axis, (13.18, 3.62), (13.18, 2.58), color=COLD_EDGE, dashed=True)
    axis.text(13.05, 2.86, "cold files too", ha="right", va="center", fontsize=8, color=COLD_EDGE)
    return figure


def draw_row_versions():
    figure, axis = canvas(13.0, 6.6, "One row, key 42, across sessions: value A → B → A")
    sessions = list(range(1, 8))
    values = ["A", "A", "B", "B", "B", "A", "A"]
    left, step = 2.2, 1.45
    axis.text(
        0.4,
        5.35,
        "landing",
        ha="left",
        va="center",
        fontsize=10.5,
        fontweight="bold",
        color=PIPELINE_EDGE,
    )
    for index, (session, value) in enumerate(zip(sessions, values)):
        x = left + index * step
        axis.text(
            x + 0.55, 5.9, f"session {session}", ha="center", va="center", fontsize=9, color=TEXT
        )
        box(
            axis,
            x,
            5.05,
            1.1,
            0.6,
            value,
            "",
            face=PIPELINE if value == "A" else "#fde2e1",
            edge=PIPELINE_EDGE if value == "A" else "#c53030",
            title_size=12,
        )
    axis.text(
        0.4,
        4.45,
        "the backup writes a version only when the value changes:",
        ha="left",
        va="center",
        fontsize=9.5,
        style="italic",
        color=TEXT,
    )

    def span(row_y, first, last_exclusive, text, face, edge):
        x0 = left + (first - 1) * step
        x1 = left + (last_exclusive - 1) * step - 0.35 if last_exclusive else left + 6 * step + 1.1
        box(axis, x0, row_y, x1 - x0, 0.62, text, "", face=face, edge=edge, title_size=10)

    axis.text(
        0.4,
        3.55,
        "History",
        ha="left",
        va="center",
        fontsize=10.5,
        fontweight="bold",
        color=BACKUP_EDGE,
    )
    span(3.25, 1, 3, "A   valid [1, 3)", PIPELINE, PIPELINE_EDGE)
    span(3.25, 3, 6, "B   valid [3, 6)", "#fde2e1", "#c53030")
    axis.text(
        0.4,
        2.35,
        "Head",
        ha="left",
        va="center",
        fontsize=10.5,
        fontweight="bold",
        color=BACKUP_EDGE,
    )
    span(2.05, 6, None, "A   valid from 6 (current)", PIPELINE, PIPELINE_EDGE)
    notes = (
        "Restore of session n = Head rows with valid_from ≤ n  +  History rows with valid_from ≤ n < valid_to.\n"
        "Session 4 → B (from History); session 7 → A (from Head); session 1 → A (from History).\n"
        "Seven sessions, three versions: the second A is a new version, so A → B → A restores exactly.\n"
        "History's partition is the day its version closed: B closed with session 6 and is never written again."
    )
    axis.text(0.4, 1.45, notes, ha="left", va="top", fontsize=9.5, color=TEXT, linespacing=1.6)
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", default="docs/architecture", help="Folder for the SVG and PNG files."
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, draw in (
        ("datasets", draw_datasets),
        ("session_lifecycle", draw_session_lifecycle),
        ("row_versions", draw_row_versions),
    ):
        figure = draw()
        for suffix in ("svg", "png"):
            figure.savefig(
                out / f"{name}.{suffix}", metadata={"Date": None} if suffix == "svg" else None
            )
        plt.close(figure)
        print(f"wrote {out / name}.svg and .png")


if __name__ == "__main__":
    main()
