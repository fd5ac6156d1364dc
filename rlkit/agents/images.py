"""Pictures of a Q-table for TensorBoard: a heatmap with labelled axes and a colour bar (drawn
with Pillow, which TensorBoard brings, so it needs no optional package) and, for grid worlds,
the greedy policy as arrows on the map (with matplotlib, when it is installed)."""

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

# matplotlib's viridis at 0, 1/8, ..., 1: dark blue (low) to yellow (high), readable in grey too
VIRIDIS = np.array(
    [(68, 1, 84), (71, 45, 123), (59, 82, 139), (44, 114, 142), (33, 145, 140), (40, 174, 128), (94, 201, 98)]
    + [(173, 220, 48), (253, 231, 37)],
    dtype=np.float64,
)
# TensorBoard's image cards are about 320-400 px wide and shrink wider pictures to fit, text
# included: the picture stays about that wide and grows downwards instead
STATES_PER_STRIP = 50  # a longer table wraps into strips stacked top to bottom
MOST_STATES_SHOWN = 500  # beyond this, every k-th state is drawn
PLOT_WIDTH = 300  # pixels a strip aims for
MIN_WIDTH = 330  # room for the colour bar and its caption
BAR_LENGTH = 180
BACKGROUND, INK = (255, 255, 255), (40, 40, 40)


def colour_range(values: np.ndarray) -> tuple[float, float]:
    """The values the colours span: the table's range cut at Tukey's far-out fences (quartiles
    ∓ 3 × the interquartile range), so that a few extreme entries, such as a cliff's −100s, do
    not wash out the rest; the whole range when the fences would leave no spread."""
    low, high = float(np.min(values)), float(np.max(values))
    q1, q3 = np.percentile(values, [25, 75])
    fenced = max(low, float(q1 - 3 * (q3 - q1))), min(high, float(q3 + 3 * (q3 - q1)))
    return fenced if fenced[0] < fenced[1] else (low, high)


def colours(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """RGB uint8 colours of `values` on viridis, [low, high] spread over the map, values beyond clipped."""
    scaled = np.clip((values - low) / (high - low), 0.0, 1.0) if high > low else np.full(np.shape(values), 0.5)
    positions = scaled * (len(VIRIDIS) - 1)
    anchors = np.arange(len(VIRIDIS))
    return np.stack([np.interp(positions, anchors, VIRIDIS[:, c]) for c in range(3)], axis=-1).astype(np.uint8)


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)  # a scalable font (Pillow >= 10.1 with FreeType)
    except TypeError:
        return ImageFont.load_default()


def _text(draw: Any, x: float, y: float, text: str, font: Any, align: str = "center") -> None:
    """`text` with its top at y, centred on x (or starting or ending at x)."""
    width = draw.textlength(text, font=font)
    left = {"left": x, "center": x - width / 2, "right": x - width}[align]
    draw.text((left, y), text, fill=INK, font=font)


def _tick_step(cell_width: int, least_pixels: int = 36) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... states whose labels are `least_pixels` apart."""
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500):
        if step * cell_width >= least_pixels:
            return step
    return 1000


def heatmap(q_table: np.ndarray, action_names: list[str] | None = None) -> np.ndarray:
    """The table as an RGB uint8 picture: actions down (by name where the env names them),
    states across (in strips of up to 100 states for long tables), labelled axes, and a colour
    bar under it whose range leaves out far outliers, as its caption says."""
    from PIL import Image, ImageDraw

    num_states, num_actions = q_table.shape
    stride = -(-num_states // MOST_STATES_SHOWN)
    states = np.arange(0, num_states, stride)
    low, high = colour_range(q_table)
    per_strip = min(len(states), STATES_PER_STRIP)
    strips = -(-len(states) // per_strip)
    cell_width = int(np.clip(PLOT_WIDTH // per_strip, 6, 32))
    cell_height = int(np.clip(96 // num_actions, 6, 20))
    font, line = _font(11), 15
    if action_names is not None and len(action_names) != num_actions:
        action_names = None
    labels = action_names or [str(action) for action in range(num_actions)]
    if action_names is not None:  # each row labelled: rows tall enough for a line of text
        cell_height = max(cell_height, 14)
    widest = max(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(label, font=font) for label in labels)
    left, top, strip_height = int(widest) + 24, 24, num_actions * cell_height
    strip_step = strip_height + line + 6  # cells, state labels, gap
    width = max(left + per_strip * cell_width + 16, MIN_WIDTH)
    plot_bottom = top + strips * strip_step
    clipped = bool(q_table.min() < low or q_table.max() > high)
    height = plot_bottom + line + 48 + (2 * line if clipped else 0)  # axis label, colour bar, caption
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)

    every = f", 1 state in {stride} shown" if stride > 1 else ""
    _text(draw, 4, 5, f"Q-table: {num_states} states, {num_actions} actions{every}", font, "left")
    cells = colours(q_table[states].T, low, high)  # actions × states
    tick_step = _tick_step(cell_width)
    action_ticks = range(0, num_actions, 1 if action_names else max(1, -(-12 // cell_height)))
    for strip in range(strips):
        y = top + strip * strip_step
        block = cells[:, strip * per_strip : (strip + 1) * per_strip]
        picture = np.repeat(np.repeat(block, cell_height, axis=0), cell_width, axis=1)
        image.paste(Image.fromarray(picture), (left, y))
        for column in range(0, block.shape[1], tick_step):
            x = left + column * cell_width + cell_width / 2
            draw.line([(x, y + strip_height), (x, y + strip_height + 2)], fill=INK)
            _text(draw, x, y + strip_height + 2, str(states[strip * per_strip + column]), font)
        for action in action_ticks:
            _text(draw, left - 4, y + action * cell_height + cell_height / 2 - 7, labels[action], font, "right")
    _text(draw, left + per_strip * cell_width / 2, plot_bottom - 4, "state", font)
    label = Image.new("RGB", (int(draw.textlength("action", font=font)) + 2, 14), BACKGROUND)
    ImageDraw.Draw(label).text((1, 0), "action", fill=INK, font=font)
    image.paste(label.rotate(90, expand=True), (2, top + max(0, strip_height - label.width) // 2))
    _colour_bar(draw, image, left, plot_bottom + line, q_table, low, high, font)
    return np.asarray(image)


def _colour_bar(draw: Any, image: Any, x: int, y: int, q_table: np.ndarray, low: float, high: float, font: Any) -> None:
    """A horizontal colour bar from `low` to `high` at (x, y), with a triangle at an end beyond
    which table values were clipped, and a caption that says so."""
    from PIL import Image

    low_text, high_text = f"{low:.3g}", f"{high:.3g}"
    bar_left = int(x + draw.textlength(low_text, font=font) + 12)
    bar_right, bar_bottom = bar_left + BAR_LENGTH, y + 9
    ramp = colours(np.linspace(low, high, bar_right - bar_left), low, high)
    image.paste(Image.fromarray(np.repeat(ramp[np.newaxis], bar_bottom - y + 1, axis=0)), (bar_left, y))
    _text(draw, bar_left - 6, y - 2, low_text, font, "right")
    _text(draw, bar_right + 6, y - 2, high_text, font, "left")
    table_low, table_high = float(q_table.min()), float(q_table.max())
    if table_low < low:
        draw.polygon([(bar_left, y), (bar_left, bar_bottom), (bar_left - 5, (y + bar_bottom) / 2)], fill=tuple(ramp[0]))
    if table_high > high:
        draw.polygon(
            [(bar_right, y), (bar_right, bar_bottom), (bar_right + 5, (y + bar_bottom) / 2)], fill=tuple(ramp[-1])
        )
    captions = ["colour: Q value"]
    if table_low < low or table_high > high:
        captions = ["colour: Q value; outliers (over 3 IQR", "beyond the quartiles) clipped; table", f"range {table_low:.3g} to {table_high:.3g}"]
    for index, caption in enumerate(captions):
        _text(draw, x, bar_bottom + 6 + 15 * index, caption, font, "left")


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
