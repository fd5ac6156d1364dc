"""Pictures of a Q-table for TensorBoard: a states × actions heatmap and, for grid worlds, the
greedy policy as arrows on the map."""

from __future__ import annotations

from typing import Any

import numpy as np

TILE_COLOURS = {
    "S": (0.75, 0.85, 1.0),
    "F": (0.92, 0.96, 1.0),
    ".": (0.95, 0.95, 0.95),
    "H": (0.2, 0.3, 0.5),
    "C": (0.45, 0.2, 0.2),
    "G": (0.6, 0.9, 0.6),
}


def heatmap(q_table: np.ndarray, width: int = 96, max_rows: int = 1024) -> np.ndarray:
    """The table as an RGB uint8 image (rows: states, columns: actions), low blue to high yellow,
    columns widened to at least `width` pixels, rows sampled down to `max_rows`."""
    table = q_table[:: max(1, len(q_table) // max_rows)]
    low, high = float(table.min()), float(table.max())
    scaled = (table - low) / (high - low) if high > low else np.zeros_like(table)
    colours = np.stack([scaled, 0.3 + 0.5 * scaled, 1.0 - scaled], axis=-1)  # blue → yellow-green
    image = np.repeat(colours, max(1, width // table.shape[1]), axis=1)
    return (image * 255).astype(np.uint8)


def policy_map(q_table: np.ndarray, grid: dict[str, Any]) -> np.ndarray | None:
    """The greedy action of each cell as an arrow on the grid map (None without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    tiles = grid["tiles"]
    rows, columns = len(tiles), len(tiles[0])
    figure, axes = plt.subplots(figsize=(columns * 0.45 + 0.4, rows * 0.45 + 0.4), dpi=100)
    axes.imshow([[TILE_COLOURS.get(tile, (1, 1, 1)) for tile in row] for row in tiles])
    for state in range(rows * columns):
        row, column = divmod(state, columns)
        if tiles[row][column] in "HCG":
            axes.text(
                column,
                row,
                tiles[row][column],
                ha="center",
                va="center",
                color="white" if tiles[row][column] != "G" else "black",
            )
        elif q_table[state].max() > q_table[state].min():
            axes.text(
                column, row, grid["arrows"][int(np.argmax(q_table[state]))], ha="center", va="center", fontsize=11
            )
    axes.set_xticks([])
    axes.set_yticks([])
    figure.tight_layout(pad=0.1)
    figure.canvas.draw()
    image = np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()
    plt.close(figure)
    return image
